"""Registration and email confirmation: ``register``, ``confirm_email``, ``resend_confirmation_email``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from .. import attempts, clock, crypto, email_confirmation, identities, inputs, signals
from ..conf import auth_settings
from ..exceptions import InvalidConfirmationToken, RegistrationDisabled, ValidationFailed, field_errors
from . import fields

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class Registration:
    user: Any
    email_confirmation_required: bool


def register(
    request: HttpRequest | None, *, username: str, password: str, email: str | None = None
) -> Registration:
    """Create an account; with ``REGISTRATION_EMAIL_CONFIRM``, mail a confirmation link.

    Username and address are normalised as ``login`` and ``resend`` normalise
    them (``identities``). Every field error is reported at once
    (``ValidationFailed``) and nothing is written unless all pass. A username
    or address another account has in any case is ``unique`` (as Django's
    ``UserCreationForm``); checked again under ``identities.lock_identities``
    just before the account is written, so simultaneous registrations of one
    identity, in any case, make one account. A mail failure does not undo the
    account: it is logged, and ``resend_confirmation_email`` sends a new link.
    """
    if not auth_settings.REGISTRATION_ENABLED:
        raise RegistrationDisabled()
    if refused := attempts.refused_input("register", request, auth_settings.ACCOUNT_THROTTLE_RATE,
                                 username=username, password=password, email=email):
        raise ValidationFailed([e for name, error in refused.items() for e in field_errors(error, name)])
    model = get_user_model()
    username = identities.normalize_username(username)
    one_field = identities.email_is_username(model)
    # One field when the username is the address (the ``email`` argument is not used).
    email = username if one_field else identities.normalize_email(email)
    # NFKC can lengthen a value ("ⅷ" becomes "viii"): the limits hold for what is stored.
    if refused := inputs.refused(username=username, **({} if one_field else {"email": email})):
        raise ValidationFailed([e for name, error in refused.items() for e in field_errors(error, name)])
    attempts.throttle_call("register", request, lambda: attempts.bucket_of(email, identities.find_account_by_email)
                           or attempts.bucket_of(username, identities.find_account), owned=True)
    errors = fields.registration_errors(model, username, password, email)
    if errors:
        raise ValidationFailed(errors)
    confirm = bool(auth_settings.REGISTRATION_EMAIL_CONFIRM)
    user = model(**{model.USERNAME_FIELD: username, model.get_email_field_name(): email})
    user.set_password(password)
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if confirm and field:
        setattr(user, field, False)
    try:
        with transaction.atomic():
            identities.lock_identities([username, email])
            errors = fields.uniqueness_errors(model, username=username, email="" if one_field else email)
            if errors:  # registered since the check above, by a request that held the lock
                raise ValidationFailed(errors)
            user.save()
            if confirm:
                email_confirmation.start_registration(user, now=clock.now())
    except IntegrityError:
        # Without the lock (not PostgreSQL): the same username registered at the same moment.
        raise ValidationFailed([fields.username_taken(model)]) from None
    signals.user_registered.send(sender=model, user=user, request=request)
    if confirm:
        email_confirmation.send_quietly(user, request=request)
    return Registration(user=user, email_confirmation_required=confirm)


def confirm_email(request: HttpRequest | None, token: str) -> Any:
    """Use a confirmation link; works even after registration is turned off.

    Only a link of a pending registration sets ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD``
    (see ``email_confirmation``). Every call counts against ``ACCOUNT_THROTTLE_RATE``
    per client IP and per link; a malformed token only per IP (it has no digest).
    """
    if attempts.refused_input("confirm_email", request, auth_settings.ACCOUNT_THROTTLE_RATE, token=token):
        raise InvalidConfirmationToken()
    well_formed = email_confirmation.is_well_formed(token)
    attempts.throttle_call("confirm_email", request, lambda: f"link:{crypto.hash_token(token)}" if well_formed else "")
    user, email = email_confirmation.consume_confirmation_token(token, now=clock.now())
    signals.email_confirmed.send(sender=user.__class__, user=user, email=email)
    return user


def resend_confirmation_email(request: HttpRequest | None, email: str) -> None:
    """Mail a new link to every pending registration with this address (case-insensitive).

    Accounts made some other way, or already confirmed, get nothing, whatever
    their ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` says. Says nothing about
    whether there was one: callers always answer success. An address that
    ``inputs`` refuses is counted per client IP and mails nobody.
    """
    email = attempts.counted_email("resend_confirmation_email", request, email)
    if not email or not auth_settings.REGISTRATION_EMAIL_CONFIRM:
        return
    for user in identities.accounts_with_email(email).filter(pending_registration__isnull=False):
        email_confirmation.send_quietly(user, request=request, pending_only=True)  # still pending, under its lock


aregister = sync_to_async(register)
aconfirm_email = sync_to_async(confirm_email)
aresend_confirmation_email = sync_to_async(resend_confirmation_email)
