import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class EmailUserManager(BaseUserManager):
    def get_by_natural_key(self, username):
        # Case-insensitive logins and registration, as many projects do.
        return self.get(email__iexact=username)


class EmailUser(AbstractBaseUser):
    """Signs in with the email address; no username at all. Its key is a UUID with a default, so
    Django saves a new instance with an INSERT straight away, and a built one needs ``force_update``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=50, blank=True)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()
