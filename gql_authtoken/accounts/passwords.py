"""Passwords: ``change_password``, ``send_password_reset_email``, ``reset_password`` (API.md §10).

A reset link carries ``<uidb64>.<token>``: the user's pk (URL-safe base64, as
Django's own reset views put it in their URLs) and a token of Django's
``default_token_generator``, an HMAC over the user's pk, password hash, last
login, email and a timestamp. Nothing is stored: a link stops working once
the password it was made under changes (so it is single use), after
``PASSWORD_RESET_TIMEOUT``, when the user logs in or changes address, or when
``SECRET_KEY`` changes.

``send_reset_link(user)`` is public, for admin actions and your own code.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import EmailMessage
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from .. import attempts, crypto, email_confirmation, identities, models, primary, signals, throttling, tokens
from ..conf import auth_settings
from ..exceptions import FieldError, InvalidResetToken, InvalidToken, NotAuthenticated, ValidationFailed, field_errors
from ..models import AuthToken, user_locked
from . import fields, user_changes

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")

DEFAULT_RESET_EMAIL = {
    "FROM": None,  # None: DEFAULT_FROM_EMAIL
    "SUBJECT": _("Reset your password"),
    "MESSAGE": _(
        "Hello {username},\n\nsomeone asked to reset the password of your account. "
        "To choose a new one, open this link:\n\n{url}\n\n"
        "If that was not you, ignore this mail: your password stays as it is.\n"
    ),
}

# Django's own message (PasswordChangeForm), so its translations apply.
WRONG_OLD_PASSWORD = _("Your old password was entered incorrectly. Please enter it again.")

# Separates the user's id from the generator's token; neither part ever contains it.
_SEPARATOR = "."


# --- changing -------------------------------------------------------------------------------


@sensitive_variables("old_password", "new_password")
def change_password(
    request: HttpRequest | None, user: Any, token: AuthToken | None, *, old_password: str, new_password: str
) -> int:
    """Set a new password for the user of ``token``; how many other sessions were revoked.

    ``old_password`` must be the current one (else a field error
    ``invalid_password``); ``new_password`` goes through Django's password
    validators (their codes). Both are field errors of ``old_password`` /
    ``new_password``, reported together; input that ``inputs`` refuses is a
    field error ``invalid``. Every other session of the user is revoked, in
    the transaction that saves the password and under the user's row lock, and
    ``token`` keeps working (API.md §10). Raises ``NotAuthenticated`` without
    a token, ``InvalidToken`` when it was revoked meanwhile, ``Throttled``.
    Sends ``password_changed`` (``reset=False``).
    """
    if token is None:
        raise NotAuthenticated()
    rate = auth_settings.ACCOUNT_THROTTLE_RATE
    if refused := attempts.refused_input("change_password", request, rate,
                                         old_password=old_password, new_password=new_password):
        raise ValidationFailed([e for name, error in refused.items() for e in field_errors(error, name)])
    attempts.throttle_call("change_password", request, lambda: throttling.identity_bucket(user, ""))
    # Fresh from the primary: the request's user may come from the token cache, without its hash,
    # and a read replica may still hold the hash this password replaced (or no row at all).
    try:
        current = primary.users().get(pk=user.pk)
    except get_user_model().DoesNotExist:
        raise InvalidToken() from None  # deleted meanwhile: its tokens went with it
    # Inside a transaction (ATOMIC_REQUESTS) a hash that Django upgrades in check_password locks
    # the user to the commit, and the kept token's row is written twice (the upgrade carries its
    # digest over, then the new password's): PostgreSQL then checks its client key at the commit,
    # after the user's lock, against a client deletion's order. Its client is held first, as
    # refresh does (models.hold_client); gone: so is the token.
    if primary.in_transaction(primary.alias(AuthToken)) and not models.hold_client(token.client):
        raise InvalidToken()
    errors = []
    if not old_password:
        errors.append(FieldError("old_password", _("This field is required."), "required"))
    elif not current.check_password(old_password):
        errors.append(FieldError("old_password", WRONG_OLD_PASSWORD, "invalid_password"))
    errors += fields.password_errors(current, new_password, "new_password")
    if errors:
        raise ValidationFailed(errors)
    revoked = _save_password(current, new_password, checked_hash=current.password, keep=token,
                             old_password=old_password)
    signals.password_changed.send(sender=type(current), user=current, request=request, reset=False)
    return revoked


@sensitive_variables("new_password", "old_password")
def _save_password(user: Any, new_password: str, *, checked_hash: str, keep: AuthToken | None,
                   old_password: str | None = None) -> int:
    """Save ``new_password`` and revoke every session of ``user`` but ``keep``; how many.

    Under the user's row lock, so a login checking the old password waits and
    then fails (``tokens.issue_token`` checks the hash again under the same
    lock), and two changes of one password cannot both pass: the stored hash
    must still be ``checked_hash``, the one the caller verified against, or
    (``old_password`` given) another hash of that password: a login re-hashed
    an outdated hash meanwhile (as ``tokens.issue_token`` allows).
    """
    with user_locked(user, "password") as stored:
        if not models.same_password(checked_hash, stored.get("password"), old_password):
            # Changed since the caller checked it: the old password, or the link, is no longer right.
            if keep is None:
                raise InvalidResetToken()
            raise ValidationFailed([FieldError("old_password", WRONG_OLD_PASSWORD, "invalid_password")])
        if keep is not None:
            tokens.require_live(keep)  # logged out meanwhile: nothing may rest on it
        user.set_password(new_password)
        with user_changes.sessions_revoked_by_caller(user):
            user.save(update_fields=["password"])
        others = AuthToken.objects.filter(user_id=user.pk)
        if keep is not None:
            others = others.exclude(pk=keep.pk)
            # It rests on the new hash now (AuthToken.password_digest), in the transaction that writes it.
            AuthToken.objects.filter(pk=keep.pk).update(password_digest=models.password_digest(user.password))
        return tokens.revoke_tokens(others, user=user)


# --- reset links ----------------------------------------------------------------------------


def reset_email_settings() -> dict[str, Any]:
    return {**DEFAULT_RESET_EMAIL, **(auth_settings.PASSWORD_RESET_EMAIL or {})}


@sensitive_variables("token")
def make_reset_token(user: Any) -> str:
    """A new reset token for ``user``: ``<uidb64>.<token>``, never stored."""
    return urlsafe_base64_encode(force_bytes(user.pk)) + _SEPARATOR + default_token_generator.make_token(user)


@sensitive_variables("token")
def reset_url(token: str) -> str:
    """``PASSWORD_RESET_URL`` with the token; ``ImproperlyConfigured`` while it is unset."""
    template = auth_settings.PASSWORD_RESET_URL
    if not template:
        raise ImproperlyConfigured("GQL_AUTHTOKEN['PASSWORD_RESET_URL'] is not set.")
    return str(template).format(token=token)


def may_reset(user: Any) -> bool:
    """Whether ``sendPasswordResetEmail`` mails ``user``: active, with a usable password
    (as Django's ``PasswordResetForm``) and an address."""
    return bool(getattr(user, "is_active", True) and user.has_usable_password() and email_confirmation.email_of(user))


def _reset_message(user: Any, token: str, request: HttpRequest | None) -> EmailMessage:
    config = reset_email_settings()
    language = translation.get_language_from_request(request) if request is not None else translation.get_language()
    with translation.override(language):
        subject = str(config["SUBJECT"])
        body = str(config["MESSAGE"]).format(username=user.get_username(), url=reset_url(token))
    return EmailMessage(subject, body, config["FROM"] or settings.DEFAULT_FROM_EMAIL,
                        [email_confirmation.email_of(user)])


def send_reset_link(user: Any, *, request: HttpRequest | None = None) -> None:
    """Mail ``user`` a reset link, to their stored address, whoever they are.

    For admin actions and your own code: unlike ``send_password_reset_email``
    it does not ask ``may_reset`` (an administrator may invite an account that
    has no usable password yet). Written in the language of ``request`` (or
    the active language). Raises ``ImproperlyConfigured`` without
    ``PASSWORD_RESET_URL``, ``ValueError`` for a user without an address, and
    what the mail backend raises.
    """
    if not email_confirmation.email_of(user):
        raise ValueError("The user has no email address.")
    _reset_message(user, make_reset_token(user), request).send()


def send_password_reset_email(request: HttpRequest | None, email: str) -> None:
    """Mail a reset link to every account with this address that ``may_reset``.

    The address is normalised as ``resend`` normalises it and compared
    case-insensitively; each mail goes to the address the account has
    stored, and only if it folds to the same one (as Django's
    ``PasswordResetForm``, CVE-2019-19844). Says nothing about whether there
    was one: callers always answer success; an address ``inputs`` refuses is
    counted per client IP and mails nobody, and a mail failure is logged. When
    no account matches, a link and its mail are still made for a stand-in user
    (not sent), so the answer takes about as long either way (docs/accounts.md:
    the mail backend's own time remains; queue mails to hide it). Without
    ``PASSWORD_RESET_URL`` nothing is mailed (system check W007).
    """
    email = attempts.counted_email("send_password_reset_email", request, email)
    if not email or not auth_settings.PASSWORD_RESET_URL:
        return
    wanted = identities.fold(email)
    users = [user for user in identities.accounts_with_email(email)
             if may_reset(user) and identities.fold(email_confirmation.email_of(user)) == wanted]
    for user in users:
        try:
            send_reset_link(user, request=request)
        except Exception:
            logger.exception("Could not send the password reset email to user %s", user.pk)
    if not users:
        # The same work for no one (Django's ModelBackend hashes for unknown
        # users for the same reason): a token, the message and its MIME form.
        stand_in = get_user_model()(pk=0, password=make_password(None))
        # Not the requested address: a stored one is valid, this one may be anything.
        setattr(stand_in, stand_in.get_email_field_name(), "nobody@example.invalid")
        _reset_message(stand_in, make_reset_token(stand_in), request).message()


@sensitive_variables("token")
def _user_of(token: str) -> Any:
    """The user a reset token names (not yet checked), or ``InvalidResetToken``."""
    uidb64, separator, key = token.partition(_SEPARATOR)
    if not separator or not key:
        raise InvalidResetToken()
    model: Any = get_user_model()
    try:  # as Django's PasswordResetConfirmView.get_user
        pk = model._meta.pk.to_python(urlsafe_base64_decode(uidb64).decode())
        if urlsafe_base64_encode(force_bytes(pk)) != uidb64:
            raise ValueError("not the form make_reset_token writes")  # one spelling per link ("NA=", "04", "٤")
        return primary.users().get(pk=pk)  # a replica may hold the hash the link was made under
    except (TypeError, ValueError, OverflowError, ValidationError, model.DoesNotExist):
        raise InvalidResetToken() from None


def _is_well_formed(token: str) -> bool:
    return bool(token) and token.isascii() and token.isprintable()


@sensitive_variables("token", "new_password")
def reset_password(request: HttpRequest | None, token: str, new_password: str) -> int:
    """Set a new password with a reset token; how many sessions were revoked (all of them).

    A malformed, unknown, used, expired (``PASSWORD_RESET_TIMEOUT``) or stale
    token, one for an inactive account, or one whose password changed since,
    raises ``InvalidResetToken``; a refused token (``inputs``) too. The new
    password goes through Django's validators (field ``new_password``). Every
    call counts against ``ACCOUNT_THROTTLE_RATE`` per client IP and per token
    digest (``Throttled``). Sends ``password_changed`` (``reset=True``).
    """
    refused = attempts.refused_input("reset_password", request, auth_settings.ACCOUNT_THROTTLE_RATE,
                                     token=token, new_password=new_password)
    if "token" in refused:
        raise InvalidResetToken()
    if refused:
        raise ValidationFailed(field_errors(refused["new_password"], "new_password"))
    well_formed = _is_well_formed(token)
    attempts.throttle_call("reset_password", request,
                           lambda: f"reset:{crypto.hash_token(token)}" if well_formed else "")
    if not well_formed:
        raise InvalidResetToken()
    user = _user_of(token)
    if not getattr(user, "is_active", True) or not default_token_generator.check_token(
        user, token.partition(_SEPARATOR)[2]
    ):
        raise InvalidResetToken()
    errors = fields.password_errors(user, new_password, "new_password")
    if errors:
        raise ValidationFailed(errors)
    revoked = _save_password(user, new_password, checked_hash=user.password, keep=None)
    signals.password_changed.send(sender=type(user), user=user, request=request, reset=True)
    return revoked


achange_password = sync_to_async(change_password)
asend_password_reset_email = sync_to_async(send_password_reset_email)
areset_password = sync_to_async(reset_password)
