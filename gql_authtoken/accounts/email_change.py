"""Changing the email address: ``change_email`` (API.md §10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from .. import attempts, email_confirmation, identities, inputs, primary, throttling, tokens
from ..conf import auth_settings
from ..exceptions import FieldError, InvalidToken, ValidationFailed, field_errors
from ..models import lock_user

if TYPE_CHECKING:
    from django.http import HttpRequest

    from ..models import AuthToken

# The throttle scope of ``change_email`` (its buckets count apart from other operations').
SCOPE = "change_email"

# The argument names of the core and REST; GraphQL shows them camelCased (``newEmail``).
PASSWORD, NEW_EMAIL = "password", "new_email"


@dataclass(frozen=True)
class EmailChange:
    """What ``change_email`` did: the user, and whether the new address still waits for
    the link mailed to it (True) or is the user's address already (False)."""

    user: Any
    email_confirmation_required: bool


@sensitive_variables("password")
def change_email(
    request: HttpRequest | None, user: Any, *, password: str, new_email: str, token: AuthToken | None = None
) -> EmailChange:
    """Change ``user``'s address to ``new_email``, given their current ``password``.

    Checks, in order, each raising ``ValidationFailed`` with field errors:
    both arguments' input checks (``inputs``: ``invalid``); the throttle
    (``ACCOUNT_THROTTLE_RATE`` per client IP and per account, ``Throttled``);
    that neither is empty (``required``); then the password
    (``invalid_password`` on ``password``; nothing about the address is said
    before it matched); then the address, normalised as ``register`` normalises
    it (``identities.normalize_email``): a valid address (``invalid``, also for
    invisible characters: ``identities.validate_identity``) that no
    other account has in any spelling (``unique`` on ``new_email``).

    With ``REGISTRATION_EMAIL_CONFIRM`` nothing changes yet: a link bound to
    the new address is mailed to it and a notice to the current one
    (``email_confirmation.start_email_change``); ``confirmEmail`` with that
    link makes the change. Otherwise, or when only the case of the current
    address changes (the same mailbox), the address changes at once, checked
    again under ``identities.lock_identities``. A username that is the address
    changes with it. Sessions are kept (the save drops the user's cached copies).
    ``InvalidToken`` when the user is gone from the primary, or when ``token``
    (the request's session the change rests on, as for ``change_password``)
    was revoked meanwhile, checked under the user's row lock
    (``tokens.require_live``).
    """
    if refused := attempts.refused_input(SCOPE, request, auth_settings.ACCOUNT_THROTTLE_RATE,
                                         password=password, email=new_email):
        names = {"password": PASSWORD, "email": NEW_EMAIL}
        raise ValidationFailed([e for name, error in refused.items() for e in field_errors(error, names[name])])
    attempts.throttle_call(SCOPE, request, lambda: throttling.identity_bucket(user, ""))
    required = _("This field is required.")
    if missing := [FieldError(name, required, "required") for name, value in ((PASSWORD, password),
                                                                               (NEW_EMAIL, new_email)) if not value]:
        raise ValidationFailed(missing)
    # A cached user may be up to TOKEN_CACHE_TIMEOUT old and its hash is deferred; a read
    # replica may still hold the hash of a password changed since: read the primary.
    try:
        primary.refresh(user)
    except ObjectDoesNotExist:
        raise InvalidToken() from None  # deleted meanwhile: its tokens went with it
    if not user.check_password(password):
        raise ValidationFailed([FieldError(PASSWORD, _("Your password was entered incorrectly."), "invalid_password")])
    email = identities.normalize_email(new_email)
    errors = address_errors(user, email)
    if errors:
        raise ValidationFailed(errors)
    same_mailbox = email.lower() == email_confirmation.email_of(user).lower()
    if auth_settings.REGISTRATION_EMAIL_CONFIRM and not same_mailbox:
        email_confirmation.start_email_change(user, email, request=request, session=token, password=password)
        return EmailChange(user=user, email_confirmation_required=True)
    with transaction.atomic():
        identities.lock_identities([email])
        lock_user(user)
        if token is not None:
            tokens.require_live(token)
        if not email_confirmation.set_email(user, email):  # taken since the check above
            raise ValidationFailed([address_taken()])
        # The newest request wins, also one that keeps the mailbox: a link asked for before it
        # dies (a new address saved does that already, user_changes; the same one saves no change).
        email_confirmation.cancel_email_changes(user)
    return EmailChange(user=user, email_confirmation_required=False)


def address_errors(user: Any, email: str) -> list[FieldError]:
    """Why ``user`` may not change to the normalised ``email``: the field errors of ``new_email``."""
    # NFKC can lengthen a value: the limit holds for what is stored.
    if refused := inputs.refused(email=email):
        return field_errors(refused["email"], NEW_EMAIL)
    if not email:
        return [FieldError(NEW_EMAIL, _("This field is required."), "required")]
    try:
        identities.validate_identity(email, email=True)
    except ValidationError as error:
        return field_errors(error, NEW_EMAIL)
    if identities.email_in_use_by_another(user, email):
        return [address_taken()]
    return []


def address_taken() -> FieldError:
    return FieldError(NEW_EMAIL, _("A user with that email already exists."), "unique")


achange_email = sync_to_async(change_email)
