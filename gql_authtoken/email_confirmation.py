"""Email confirmation: single-use links bound to one address, stored as digests, and the mail.

A link has a purpose (``ConfirmationPurpose``). A registration link completes
a *pending registration* (an account made by ``register`` and not confirmed
yet) and only then sets ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD``; an email
change link makes its address the user's new one (``changeEmail``, API.md
§10); any other link only records the confirmed address. So no link activates
an account that was created some other way or that an administrator
deactivated (API.md §8).

``send_confirmation_email(user)`` is public, for admin actions and your own code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from . import clock, crypto, identities, models, primary, tokens
from .conf import auth_settings
from .exceptions import InvalidConfirmationToken
from .models import AuthToken, ConfirmationPurpose, EmailConfirmationToken, PendingRegistration, lock_user, user_locked

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")

DEFAULT_EMAIL = {
    "BASE_URL": "",
    "FROM": None,  # None: DEFAULT_FROM_EMAIL
    "SUBJECT": _("Confirm your email address"),
    "MESSAGE": _("Hello {username},\n\nplease confirm your email address by opening this link:\n\n{url}\n"),
    # The notice to the old address when a change of address waits for its link.
    "EMAIL_CHANGE_SUBJECT": _("Your email address is being changed"),
    "EMAIL_CHANGE_MESSAGE": _(
        "Hello {username},\n\na change of the email address of your account to {new_email} was requested. "
        "It takes effect when the link mailed to that address is opened.\n\n"
        "If this was not you, change your password now: that cancels the change.\n"
    ),
}


def email_settings() -> dict[str, Any]:
    return {**DEFAULT_EMAIL, **(auth_settings.REGISTRATION_EMAIL or {})}


def email_of(user: Any) -> str:
    return getattr(user, user.get_email_field_name(), "") or ""


def is_pending_registration(user: Any) -> bool:
    """Whether ``user`` was made by ``register`` and has not confirmed their address yet."""
    return primary.manager(PendingRegistration).filter(user_id=user.pk).exists()


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
    return bool(email) and primary.manager(EmailConfirmationToken).filter(
        user=user, email__iexact=email, confirmed__isnull=False
    ).exists()


def create_confirmation_token(user: Any, email: str, *, purpose: str, now: datetime) -> str:
    """A new confirmation token for ``email``; only its digest is stored.

    Raises ``DoesNotExist`` of the user model when the user was deleted (``_holding``).
    """
    with _holding(user):
        return _new_link(user, email, purpose=purpose, now=now)


@contextmanager
def _holding(user: Any, *fields: str) -> Iterator[dict[str, Any]]:
    """``models.user_locked`` around making a link, as around every row resting on the user.

    A deletion running now is waited for, and then nothing is made: ``DoesNotExist``
    of the user model (the link's foreign key would have failed the commit, a 500).
    """
    with user_locked(user, *fields) as stored:
        if not stored:
            raise get_user_model().DoesNotExist("The user was deleted.")
        yield stored


def _new_link(user: Any, email: str, *, purpose: str, now: datetime, password_hash: str | None = None) -> str:
    """``create_confirmation_token`` for a caller inside ``_holding(user)``. ``password_hash``: the
    stored hash the request was checked against (an email change), which the link rests on."""
    token = crypto.generate_token(length=auth_settings.TOKEN_CHARACTER_LENGTH)
    EmailConfirmationToken.objects.create(
        user=user, email=email, digest=crypto.hash_token(token), created=now, purpose=purpose,
        password_digest=models.password_digest(password_hash),
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

    Unknown, used, expired and stale tokens (``is_stale``), registration links
    of accounts with no pending registration, and email change links whose
    address another account took meanwhile, all raise the same
    ``InvalidConfirmationToken``.
    """
    if not is_well_formed(token):
        raise InvalidConfirmationToken()
    try:
        # From the primary: a replica may miss a link mailed a moment ago, or hold one used since.
        row = primary.manager(EmailConfirmationToken).select_related("user").get(
            digest=crypto.hash_token(token), confirmed__isnull=True
        )
    except EmailConfirmationToken.DoesNotExist:
        raise InvalidConfirmationToken() from None
    user = row.user
    expired = row.created + auth_settings.REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY <= now
    if expired or is_stale(row, user):
        with user_locked(user):  # the user first, as a password change or deletion removing links takes it
            row.delete()
        raise InvalidConfirmationToken()
    with transaction.atomic():
        if row.purpose == ConfirmationPurpose.EMAIL_CHANGE:
            identities.lock_identities([row.email])  # before the user's row, as ``change_email`` locks
        lock_user(user)  # one link of a user at a time: using one deletes the others
        # Read again under the lock: an address changed (or the user deactivated or deleted) while
        # this waited makes the link stale, as it would have been a moment later.
        user = primary.users().filter(pk=user.pk).first()
        if user is None or is_stale(row, user):
            if user is not None:
                row.delete()
            raise InvalidConfirmationToken()
        # The conditional update lets exactly one of two simultaneous uses win.
        used = EmailConfirmationToken.objects.filter(pk=row.pk, confirmed__isnull=True).update(confirmed=now)
        if used and not _complete(row, user):
            # Nothing to complete (see ``_complete``): this link records nothing.
            row.delete()
            used = False
        if used:
            others = EmailConfirmationToken.objects.filter(user=user, confirmed__isnull=True)
            if row.purpose != ConfirmationPurpose.EMAIL_CHANGE:  # a change still waits for its own link
                others = others.exclude(purpose=ConfirmationPurpose.EMAIL_CHANGE)
            others.delete()
    if not used:
        raise InvalidConfirmationToken()
    return user, row.email


def is_stale(row: EmailConfirmationToken, user: Any) -> bool:
    """Whether a link no longer fits its user, whatever its age.

    A registration or address link confirms the user's current address, so it
    dies when that address changes. An email change link confirms an address
    the user does not have yet; it dies when a newer change is requested
    (``start_email_change`` deletes it), never serves an inactive account, and
    rests on the password hash its request was checked against: a new one, even
    written without ``save()`` (which would cancel it), ends it.
    """
    if row.purpose == ConfirmationPurpose.EMAIL_CHANGE:
        return not getattr(user, "is_active", True) or not models.rests_on_password(
            row.password_digest, getattr(user, "password", None))
    return email_of(user).lower() != row.email.lower()


def _complete(row: EmailConfirmationToken, user: Any) -> bool:
    """Do what the link is for (under the user's lock); False when there is nothing it may do."""
    if row.purpose == ConfirmationPurpose.REGISTRATION:
        return _complete_registration(user)
    if row.purpose == ConfirmationPurpose.EMAIL_CHANGE:
        return set_email(user, row.email)
    return True


def set_email(user: Any, email: str) -> bool:
    """Make ``email`` the user's address, unless another account has it (False).

    Call inside ``transaction.atomic()`` after ``identities.lock_identities([email])``,
    so the check sees every account committed before it (PostgreSQL). Only the
    address column is written, so a cached copy of the user (up to
    ``TOKEN_CACHE_TIMEOUT`` old) overwrites nothing else; the save drops the
    user's cached copies (``user_changes.user_saved``). When the username is the
    address it changes with it: it is one field.
    """
    if identities.email_in_use_by_another(user, email):
        return False
    field = user.get_email_field_name()
    setattr(user, field, email)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            user.save(update_fields=[field])
    except IntegrityError:  # a unique address column, taken at this very moment (not PostgreSQL)
        return False
    return True


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


def send_confirmation_email(user: Any, *, request: HttpRequest | None = None, pending_only: bool = False) -> bool:
    """Mail a new confirmation link to the user's current address; whether one was mailed.

    For a pending registration the link completes it. For any other account
    (created another way, already confirmed, deactivated) the link only
    records that the address is confirmed and never changes the user, so this
    cannot re-activate anyone; with ``pending_only`` such an account gets
    nothing (False). Which it is, is read under the user's lock, with the
    link made there: a confirmation that committed meanwhile counts. Written
    in the language of ``request`` (or the active language). Raises
    ``DoesNotExist`` of the user model when the user was deleted meanwhile,
    and what the mail backend raises; the link that could not be sent is
    removed.
    """
    email = email_of(user)
    if not email:
        raise ValueError("The user has no email address to confirm.")
    with _holding(user):
        pending = is_pending_registration(user)
        if pending_only and not pending:
            return False
        purpose = ConfirmationPurpose.REGISTRATION if pending else ConfirmationPurpose.ADDRESS
        token = _new_link(user, email, purpose=purpose, now=clock.now())
    _mail_link(user, email, token, request=request)
    return True


def _mail_link(user: Any, email: str, token: str, *, request: HttpRequest | None) -> None:
    """Mail the link of ``token`` to ``email``; raises what the mail backend raises, after removing the link."""
    try:
        _mail(user, email, "SUBJECT", "MESSAGE", request=request, url=confirmation_url(token))
    except Exception:
        EmailConfirmationToken.objects.filter(digest=crypto.hash_token(token)).delete()
        raise


def _mail(user: Any, to: str, subject: str, message: str, *, request: HttpRequest | None, **values: str) -> None:
    """Mail ``REGISTRATION_EMAIL[subject]`` / ``[message]`` (formatted with ``username`` and
    ``values``) to ``to``, in the language of ``request`` (or the active language)."""
    config = email_settings()
    language = translation.get_language_from_request(request) if request is not None else translation.get_language()
    with translation.override(language):
        text = str(config[message]).format(username=user.get_username(), **values)
        send_mail(str(config[subject]), text, config["FROM"] or settings.DEFAULT_FROM_EMAIL, [to])


@sensitive_variables("password")
def start_email_change(
    user: Any, new_email: str, *, request: HttpRequest | None = None, session: AuthToken | None = None,
    password: str | None = None,
) -> None:
    """Mail a link that makes ``new_email`` the user's address, and a notice to the current one.

    The newest request wins: the user's unused email change links are deleted
    as the new one is made (under the user's lock, so of two requests at once
    one link survives). Nothing about the user changes until the link is used.
    A mail failure is logged, not raised (the user can ask again); when the
    link could not be sent, no notice goes out either. ``session``: the token
    the change rests on, checked under the lock (``tokens.require_live``:
    ``InvalidToken`` when it was revoked meanwhile, and no link is made).
    The link rests on ``user.password``, the hash the request's ``password`` was
    checked against, or on another hash of that password that a login's
    re-hash stored meanwhile (``models.same_password``): a new password, saved
    or not, ends it (``is_stale``).
    """
    with _holding(user, *models.model_fields(user, ("password",))) as stored:
        if session is not None:
            tokens.require_live(session)
        cancel_email_changes(user)
        stored_hash = stored.get("password")
        rests_on = stored_hash if models.same_password(user.password, stored_hash, password) else user.password
        token = _new_link(user, new_email, purpose=ConfirmationPurpose.EMAIL_CHANGE, now=clock.now(),
                          password_hash=rests_on)
    try:
        _mail_link(user, new_email, token, request=request)
    except Exception:
        logger.exception("Could not send the email change link to user %s", user.pk)
        return
    old_email = email_of(user)
    if not old_email:
        return
    try:
        _mail(user, old_email, "EMAIL_CHANGE_SUBJECT", "EMAIL_CHANGE_MESSAGE", request=request, new_email=new_email)
    except Exception:
        logger.exception("Could not send the email change notice to user %s", user.pk)


def cancel_email_changes(user: Any) -> None:
    """Delete the user's unused email change links (a password change or a deactivation)."""
    EmailConfirmationToken.objects.filter(
        user_id=user.pk, purpose=ConfirmationPurpose.EMAIL_CHANGE, confirmed__isnull=True
    ).delete()


def send_quietly(user: Any, *, request: HttpRequest | None = None, pending_only: bool = False) -> bool:
    """``send_confirmation_email`` that logs a mail failure instead of raising; whether it mailed."""
    try:
        return send_confirmation_email(user, request=request, pending_only=pending_only)
    except get_user_model().DoesNotExist:
        return False  # deleted meanwhile: nobody to mail, and nothing went wrong
    except Exception:
        logger.exception("Could not send the confirmation email to user %s", user.pk)
        return False
