"""Token generation and hashing: small pure functions, randomness behind a seam."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets

# Longer header values are refused before hashing; no issued or imported token
# comes near this length, so nothing valid is lost.
MAX_TOKEN_LENGTH = 512


def random_string(length: int) -> str:
    """``length`` URL-safe characters from ``secrets`` (seam for tests)."""
    # token_urlsafe(n) yields about 1.3 characters per byte; trim to the length.
    return secrets.token_urlsafe(length)[:length]


def generate_token(*, length: int, prefix: str = "") -> str:
    """A new plaintext token: ``prefix`` followed by ``length`` random characters."""
    return prefix + random_string(length)


def hash_token(token: str) -> str:
    """The digest stored in place of a token: hex SHA-512 of its UTF-8 bytes.

    Tokens carry 64 random characters (about 380 bits), so a fast unsalted hash
    is enough: there is nothing to brute-force, and a lookup by digest needs a
    deterministic hash.
    """
    return hashlib.sha512(token.encode()).hexdigest()


REST_AUTHTOKEN_PREFIX = "rest_authtoken$"


def rest_authtoken_digest(token: str) -> str | None:
    """The digest django-rest-authtoken stored for ``token``, as imported rows keep it.

    That library sends ``urlsafe_b64encode(48 random bytes)`` and stores
    ``sha512(bytes)``; only strings of that exact form have one. Imported rows
    carry a prefix, so this form can only ever match them, never a new token.
    """
    if len(token) != 64:
        return None
    try:
        raw = base64.b64decode(token.encode(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 48:
        return None
    return REST_AUTHTOKEN_PREFIX + hashlib.sha512(raw).hexdigest()
