"""Email confirmation: single-use links bound to one address, stored as digests, and the mail.

A link has a purpose (``ConfirmationPurpose``). A registration link completes
a *pending registration* (an account made by ``register`` and not confirmed
yet) and only then sets ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD``; any other
link only records the confirmed address. So no link activates an account that
was created some other way or that an administrator deactivated.

``send_confirmation_email(user)`` is public, for admin actions and your own code.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from . import clock, crypto
from .conf import auth_settings
from .exceptions import InvalidConfirmationToken
from .models import ConfirmationPurpose, EmailConfirmationToken, PendingRegistration, lock_user

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")

DEFAULT_EMAIL = {
    "BASE_URL": "",
    "FROM": None,  # None: DEFAULT_FROM_EMAIL
    "SUBJECT": _("Confirm your email address"),
    "MESSAGE": _("Hello {username},\n\nplease confirm your email address by opening this link:\n\n{url}\n"),
}


def email_settings() -> dict[str, Any]:
    return {**DEFAULT_EMAIL, **(auth_settings.REGISTRATION_EMAIL or {})}


def email_of(user: Any) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


def is_pending_registration(user: Any) -> bool:
    """Whether ``user`` was made by ``register`` and has not confirmed their address yet."""
    return PendingRegistration.objects.filter(user_id=user.pk).exists()


def start_registration(user: Any, *, now: datetime) -> None:
    """Mark a new account as a pending registration (in the transaction that saves it)."""
    PendingRegistration.objects.create(user=user, created=now)


def is_email_confirmed(user: Any) -> bool:
    """Whether the user's current address counts as confirmed.

    Never while their registration is pending. Otherwise when
    ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` is true on the user, or when a
    link for the current address was used (a confirmed address stays
    confirmed when that field is ``is_active`` and an admin deactivates the
    account).
    """
    if is_pending_registration(user):
        return False
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field and getattr(user, field, False):
        return True
    email = email_of(user)
    return bool(email) and EmailConfirmationToken.objects.filter(
        user=user, email__iexact=email, confirmed__isnull=False
    ).exists()


def create_confirmation_token(user: Any, email: str, *, purpose: str, now: datetime) -> str:
    """A new confirmation token for ``email``; only its digest is stored."""
    token = crypto.generate_token(length=auth_settings.TOKEN_CHARACTER_LENGTH)
    EmailConfirmationToken.objects.create(
        user=user, email=email, digest=crypto.hash_token(token), created=now, purpose=purpose
    )
    return token


def confirmation_url(token: str) -> str:
    """``REGISTRATION_CONFIRM_URL`` with the token, or ``BASE_URL`` + the REST confirm path."""
    template = auth_settings.REGISTRATION_CONFIRM_URL
    if template:
        return str(template).format(token=token)
    path = reverse("gql_authtoken:register-confirm", kwargs={"token": token})
    return str(email_settings()["BASE_URL"]).rstrip("/") + path


def is_well_formed(token: str) -> bool:
    """Whether ``token`` could be a link at all: printable ASCII, not overlong.

    Anything else (NUL, unpaired surrogates, other Unicode, megabytes) is
    refused before it is hashed or reaches a database.
    """
    return len(token) <= crypto.MAX_TOKEN_LENGTH and token.isascii() and token.isprintable()


def consume_confirmation_token(token: str, *, now: datetime) -> tuple[Any, str]:
    """Use a confirmation token once: the user and the address it confirmed.

    Unknown, used, expired and stale tokens (the user's address changed since),
    and registration links of accounts with no pending registration, all raise
    the same ``InvalidConfirmationToken``.
    """
    if not is_well_formed(token):
        raise InvalidConfirmationToken()
    try:
        row = EmailConfirmationToken.objects.select_related("user").get(
            digest=crypto.hash_token(token), confirmed__isnull=True
        )
    except EmailConfirmationToken.DoesNotExist:
        raise InvalidConfirmationToken() from None
    user = row.user
    expired = row.created + auth_settings.REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY <= now
    if expired or email_of(user).lower() != row.email.lower():
        row.delete()
        raise InvalidConfirmationToken()
    with transaction.atomic():
        lock_user(user)  # one link of a user at a time: using one deletes the others
        # The conditional update lets exactly one of two simultaneous uses win.
        used = EmailConfirmationToken.objects.filter(pk=row.pk, confirmed__isnull=True).update(confirmed=now)
        if used and row.purpose == ConfirmationPurpose.REGISTRATION and not _complete_registration(user):
            # Done already, or never made by ``register``: this link records nothing.
            row.delete()
            used = False
        if used:
            EmailConfirmationToken.objects.filter(user=user, confirmed__isnull=True).delete()
    if not used:
        raise InvalidConfirmationToken()
    return user, row.email


def end_pending_registration(user: Any) -> bool:
    """End the user's pending registration, if any; whether there was one."""
    deleted, _per_model = PendingRegistration.objects.filter(user_id=user.pk).delete()
    return bool(deleted)


def _complete_registration(user: Any) -> bool:
    """End the user's pending registration and set the model field; False when none was pending."""
    if not end_pending_registration(user):
        return False
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field:
        setattr(user, field, True)
        user.save(update_fields=[field])
    return True


def send_confirmation_email(user: Any, *, request: HttpRequest | None = None) -> None:
    """Mail a new confirmation link to the user's current address.

    For a pending registration the link completes it. For any other account
    (created another way, already confirmed, deactivated) the link only
    records that the address is confirmed and never changes the user, so this
    cannot re-activate anyone. Written in the language of ``request`` (or the
    active language). Raises what the mail backend raises; the link that
    could not be sent is removed.
    """
    email = email_of(user)
    if not email:
        raise ValueError("The user has no email address to confirm.")
    purpose = ConfirmationPurpose.REGISTRATION if is_pending_registration(user) else ConfirmationPurpose.ADDRESS
    token = create_confirmation_token(user, email, purpose=purpose, now=clock.now())
    config = email_settings()
    language = translation.get_language_from_request(request) if request is not None else translation.get_language()
    with translation.override(language):
        subject = str(config["SUBJECT"])
        message = str(config["MESSAGE"]).format(username=user.get_username(), url=confirmation_url(token))
    try:
        send_mail(subject, message, config["FROM"] or settings.DEFAULT_FROM_EMAIL, [email])
    except Exception:
        EmailConfirmationToken.objects.filter(digest=crypto.hash_token(token)).delete()
        raise


def send_quietly(user: Any, *, request: HttpRequest | None = None) -> bool:
    """``send_confirmation_email`` that logs a mail failure instead of raising."""
    try:
        send_confirmation_email(user, request=request)
    except Exception:
        logger.exception("Could not send the confirmation email to user %s", user.pk)
        return False
    return True
