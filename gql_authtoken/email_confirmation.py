"""Email confirmation: single-use links bound to one address, stored as digests, and the mail.

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

from . import crypto
from .conf import auth_settings
from .exceptions import InvalidConfirmationToken
from .models import EmailConfirmationToken

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


def is_email_confirmed(user: Any) -> bool:
    """Whether the user's current address is confirmed.

    True when ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` is set on the user, or
    when a link for the current address was used (a confirmed address stays
    confirmed even if that field is ``is_active`` and an admin deactivates the
    account, so a resend cannot re-activate it).
    """
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field and getattr(user, field, False):
        return True
    email = email_of(user)
    return bool(email) and EmailConfirmationToken.objects.filter(
        user=user, email__iexact=email, confirmed__isnull=False
    ).exists()


def create_confirmation_token(user: Any, email: str, *, now: datetime) -> str:
    """A new confirmation token for ``email``; only its digest is stored."""
    token = crypto.generate_token(length=auth_settings.TOKEN_CHARACTER_LENGTH)
    EmailConfirmationToken.objects.create(user=user, email=email, digest=crypto.hash_token(token), created=now)
    return token


def confirmation_url(token: str) -> str:
    """``REGISTRATION_CONFIRM_URL`` with the token, or ``BASE_URL`` + the REST confirm path."""
    template = auth_settings.REGISTRATION_CONFIRM_URL
    if template:
        return str(template).format(token=token)
    path = reverse("gql_authtoken:register-confirm", kwargs={"token": token})
    return str(email_settings()["BASE_URL"]).rstrip("/") + path


def consume_confirmation_token(token: str, *, now: datetime) -> tuple[Any, str]:
    """Use a confirmation token once: the user and the address it confirmed.

    Unknown, used, expired and stale tokens (the user's address changed since)
    all raise the same ``InvalidConfirmationToken``.
    """
    if len(token) > crypto.MAX_TOKEN_LENGTH:
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
        # The conditional update lets exactly one of two simultaneous uses win.
        if not EmailConfirmationToken.objects.filter(pk=row.pk, confirmed__isnull=True).update(confirmed=now):
            raise InvalidConfirmationToken()
        EmailConfirmationToken.objects.filter(user=user, confirmed__isnull=True).delete()
        field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
        if field:
            setattr(user, field, True)
            user.save(update_fields=[field])
    return user, row.email


def send_confirmation_email(user: Any, *, request: HttpRequest | None = None) -> None:
    """Mail a new confirmation link to the user's current address.

    Written in the language of ``request`` (or the active language). Raises
    what the mail backend raises; the link that could not be sent is removed.
    """
    from . import services  # the core's clock; services imports this module

    email = email_of(user)
    if not email:
        raise ValueError("The user has no email address to confirm.")
    token = create_confirmation_token(user, email, now=services.now())
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
