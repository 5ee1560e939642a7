"""Receivers for changes to users made through ``save()`` / ``delete()`` (the admin included)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save, pre_delete

from . import cache as token_cache
from . import services
from .models import AuthToken

# Saves that change nothing a token lookup serves (Django's login writes last_login).
HARMLESS_UPDATES = frozenset({"last_login"})


def on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or (update_fields is not None and set(update_fields) <= HARMLESS_UPDATES):
        return
    # AbstractBaseUser.set_password() keeps the new raw password in ``_password``
    # until save() finishes; Django's own hash upgrade on login clears it first.
    services.user_changed(instance, password_changed=getattr(instance, "_password", None) is not None)


def on_user_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    # The tokens go with the user (CASCADE); remember their digests to forget them after.
    instance._gql_authtoken_digests = list(
        AuthToken.objects.filter(user_id=instance.pk).values_list("digest", flat=True)
    )


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    token_cache.forget(getattr(instance, "_gql_authtoken_digests", ()))


def connect() -> None:
    user_model = get_user_model()
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="gql_authtoken.user_saved")
    pre_delete.connect(on_user_deleting, sender=user_model, dispatch_uid="gql_authtoken.user_deleting")
    post_delete.connect(on_user_deleted, sender=user_model, dispatch_uid="gql_authtoken.user_deleted")
