from django.contrib.auth.models import AbstractUser
from django.db import models


class Account(AbstractUser):
    """A concrete parent: the password, is_active and email live in its table."""


class Member(Account):
    """AUTH_USER_MODEL, a multi-table child of Account."""

    nickname = models.CharField(max_length=30, blank=True)
