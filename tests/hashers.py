"""A second fast hasher, to see Django upgrade a password hash on login."""

import hashlib

from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher


class FastSHA256PasswordHasher(MD5PasswordHasher):
    algorithm = "fast_sha256"

    def encode(self, password, salt):
        digest = hashlib.sha256((salt + password).encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def verify(self, password, encoded):
        algorithm, salt, _ = encoded.split("$", 2)
        return algorithm == self.algorithm and self.encode(password, salt) == encoded


class FewIterationsPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2 at test speed; a hash made with fewer iterations is upgraded on login."""

    iterations = 2000
