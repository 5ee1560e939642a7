from django.contrib.auth.models import AbstractUser
from django.db import models


class Account(AbstractUser):
    """A concrete parent: the password, is_active and email live in its table."""


class Member(Account):
    """AUTH_USER_MODEL, a multi-table child of Account with a primary key of its own, so that a
    member's key differs from its account's (the tests create a plain Account first)."""

    uid = models.BigAutoField(primary_key=True)
    account_ptr = models.OneToOneField(Account, on_delete=models.CASCADE, parent_link=True)
    nickname = models.CharField(max_length=30, blank=True)


class Vendor(Account):
    """Another child of Account, not a user: one can be created on a member's account row."""

    shop = models.CharField(max_length=30, blank=True)


class Staff(Member):
    """A child of the user model (Django's own parent link, its key): a member promoted to staff."""

    badge = models.CharField(max_length=30, blank=True)


class Partner(Member):
    """A child of the user model with a key of its own: its link is not its key."""

    pid = models.BigAutoField(primary_key=True)
    member_ptr = models.OneToOneField(Member, on_delete=models.CASCADE, parent_link=True)
