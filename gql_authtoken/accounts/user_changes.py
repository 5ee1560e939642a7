"""What a change to a user, saved anywhere (``save()``, the admin, the shell), does to their tokens (API.md §8)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, get_hasher, identify_hasher
from django.db import DatabaseError, router, transaction
from django.views.decorators.debug import sensitive_variables

from .. import cache as token_cache
from .. import email_confirmation, models, tokens
from ..conf import auth_settings
from ..models import AuthToken, EmailConfirmationToken

# The pk of the user whose password change is being saved by ``accounts.passwords``,
# which revokes the sessions itself (see ``sessions_revoked_by_caller``).
_revoking_caller: ContextVar[Any] = ContextVar("gql_authtoken_revoking_caller", default=None)
# The user instance whose ``check_password()`` is running, the password it checks and the hash it
# checks it against: only then can a save be Django's re-hash.
_checking_password: ContextVar[tuple[Any, str | None, str] | None] = ContextVar(
    "gql_authtoken_checking_password", default=None)
# Set on a user whose check matched a hash that was replaced meanwhile (``keep_newer_password``).
_STALE_CHECK = "_gql_authtoken_stale_password_check"
# Set with it when the user's row was gone: Django's re-hash save then fails, and the check with it.
_DELETED_DURING_CHECK = "_gql_authtoken_deleted_during_check"


def watch_password_checks() -> None:
    """Mark the user whose ``AbstractBaseUser.check_password()`` runs (called once, at start-up).

    Django re-hashes an outdated hash inside ``check_password()``, saving only
    ``password``; the same save made by code that assigned ``make_password()``
    looks identical afterwards. Knowing that the save happens inside the check
    of that very instance tells them apart (``_is_hash_upgrade``). A user model
    that replaces ``check_password`` without calling it is never marked: its
    saves count as password changes, the safe side.

    When the hash is outdated, the check runs in a transaction on the database
    the save writes to, so the row that ``keep_newer_password`` reads (and
    locks, where the database can) stays as read until the re-hash is written.
    ``acheck_password()`` (Django's ``aauthenticate``) runs this same check in a
    thread, so both are watched alike.
    """
    from asgiref.sync import sync_to_async
    from django.contrib.auth.base_user import AbstractBaseUser

    original = AbstractBaseUser.check_password
    if getattr(original, "_gql_authtoken_watched", False):
        return

    @functools.wraps(original)
    @sensitive_variables("raw_password")
    def check_password(self: Any, raw_password: str | None) -> bool:
        reset = _checking_password.set((self, raw_password, self.password))
        try:
            with _rehash_transaction(self):
                matched = original(self, raw_password)
        except DatabaseError:
            if not self.__dict__.get(_DELETED_DURING_CHECK):
                raise
            matched = False  # Django's re-hash found no row to update
        finally:
            _checking_password.reset(reset)
            self.__dict__.pop(_DELETED_DURING_CHECK, None)
            # The password changed while it was checked: it matched the old one (keep_newer_password).
            stale = self.__dict__.pop(_STALE_CHECK, False)
        return matched and not stale

    @functools.wraps(AbstractBaseUser.acheck_password)
    @sensitive_variables("raw_password")
    async def acheck_password(self: Any, raw_password: str | None) -> bool:
        return await sync_to_async(self.check_password)(raw_password)

    check_password._gql_authtoken_watched = True  # type: ignore[attr-defined]
    AbstractBaseUser.check_password = check_password  # type: ignore[method-assign]
    AbstractBaseUser.acheck_password = acheck_password  # type: ignore[method-assign]


def _rehash_transaction(user: Any) -> Any:
    """A transaction around a check that will re-hash ``user``'s stored hash; nothing otherwise."""
    if user.pk is None or user._state.adding or not _outdated(user.password):
        return nullcontext()
    return transaction.atomic(using=router.db_for_write(type(user), instance=user))


def _hasher_known(encoded: str) -> bool:
    """Whether ``encoded`` is a hash of one of ``PASSWORD_HASHERS`` (not unusable, not unknown)."""
    try:
        identify_hasher(encoded)
    except ValueError:
        return False
    return True


def _outdated(encoded: str) -> bool:
    """Whether Django re-hashes ``encoded`` when it is checked (its rule in ``hashers.verify_password``)."""
    if not _hasher_known(encoded):
        return False  # unusable or unknown: never re-hashed
    hasher, preferred = identify_hasher(encoded), get_hasher("default")
    return hasher.algorithm != preferred.algorithm or preferred.must_update(encoded)


def checking_own_password(user: Any) -> bool:
    """Whether ``user``'s own ``check_password()`` is running: a save of its password alone is
    then Django's re-hash, and the stored row is read under a lock (``receivers.on_user_saving``)."""
    checking = _checking_password.get()
    return checking is not None and checking[0] is user


def keep_newer_password(user: Any, stored_hash: str | None) -> None:
    """Before a save of ``user``'s ``password`` alone: when it is Django's re-hash inside
    ``check_password()`` and the stored hash is no longer the one checked, nor of the same
    password (another login's re-hash), the password was changed meanwhile. Django would write
    the old password back over the new one; the stored hash is kept instead, and the check fails
    (``watch_password_checks``): a login with the old password gets nothing.

    An unusable stored password counts as newer too (an administrator disabled the password
    while the check ran). So a backend migrating users from another system must save the
    legacy hash before checking it, not only assign it in memory (docs/security.md). A user
    deleted meanwhile (``stored_hash`` None) fails the check as well, and Django's save, which
    then finds no row to update, is not an error of the check (``watch_password_checks``).
    """
    checking = _checking_password.get()
    if checking is None or checking[0] is not user:
        return
    if stored_hash is None:  # deleted meanwhile: the check fails, and Django's save finds no row
        user.__dict__[_STALE_CHECK] = user.__dict__[_DELETED_DURING_CHECK] = True
        return
    _user, raw_password, checked_hash = checking
    if stored_hash == checked_hash or check_password(raw_password, stored_hash):
        return
    user.password = stored_hash
    user.__dict__[_STALE_CHECK] = True


@contextmanager
def sessions_revoked_by_caller(user: Any) -> Iterator[None]:
    """Saves of ``user``'s new password inside the block leave the revocation to the caller.

    For ``change_password``, which keeps the request's own session (API.md
    §10) and revokes the others itself, in the same transaction and under the
    same user row lock as the save, so no token issued for the old password
    survives. Everything else ``user_saved`` does still happens (the cached
    copies of the user are dropped; a deactivation still revokes all).
    """
    reset = _revoking_caller.set(user.pk)
    try:
        yield
    finally:
        _revoking_caller.reset(reset)


def watched_user_fields() -> tuple[str, ...]:
    """The user fields whose change through ``save()`` ``user_saved`` acts on."""
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    return ("password", "is_active", get_user_model().get_email_field_name(), *([field] if field else []))


def user_saved(user: Any, *, before: dict[str, Any], update_fields: Any = None, saved: Any = None) -> None:
    """A user was saved; ``before`` holds the stored values of ``watched_user_fields`` that it wrote.

    ``saved``: the instance that was saved, when it is not ``user`` but one that shares its
    rows: of a multi-table parent of the user model (whose table holds some of its fields), of
    another child of such a parent, or of a child of the user model; what changed is read from
    it, and ``user`` is the one whose sessions it concerns.

    A new password hash (any change but Django's own upgrade at login) or a
    deactivation revokes every token (API.md §8: re-activation brings no
    session back) and cancels a pending change of address; any other change
    drops the cached copies of the user.
    Changing ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` by hand (an
    administrator activating or deactivating the account; a pending one has it
    false) ends a pending registration, so no link or resend can later undo a
    deactivation.
    """
    saved = user if saved is None else saved
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field and field in before and bool(before[field]) != bool(getattr(saved, field, False)):
        email_confirmation.end_pending_registration(user)
    old_hash = before.get("password")
    password_changed = (
        old_hash is not None
        and old_hash != saved.password
        and not _is_hash_upgrade(saved, old_hash, update_fields)
    )
    deactivated = bool(before.get("is_active")) and not getattr(saved, "is_active", True)
    email_field = user.get_email_field_name()
    if email_field in before and before[email_field] != getattr(saved, email_field, None):
        # A new address set by other means (an administrator, the shell) or by a confirmed
        # change: no older request to change it may take effect afterwards.
        email_confirmation.cancel_email_changes(user)
    if old_hash is not None and old_hash != saved.password and not password_changed:
        # Django's re-hash at login: what rests on the old hash stays (sessions, an email change link),
        # carried over in the transaction that writes the new one.
        old, new = models.password_digest(old_hash), models.password_digest(saved.password)
        for model in (AuthToken, EmailConfirmationToken):
            model.objects.filter(user_id=user.pk, password_digest=old).update(password_digest=new)
    if password_changed or deactivated:
        # A change of address asked for with a stolen password or token dies with it,
        # whoever revokes the sessions.
        email_confirmation.cancel_email_changes(user)
        caller_revokes = not deactivated and _revoking_caller.get() == user.pk  # ``sessions_revoked_by_caller``
        if not caller_revokes:
            tokens.revoke_all_tokens(user)  # its tokens' marks wait out every process's recent hits
    token_cache.drop_user_copies(user)


def _is_hash_upgrade(user: Any, old_hash: str, update_fields: Any) -> bool:
    """Whether this save is Django's transparent re-hash at login, not a new password.

    ``AbstractBaseUser.check_password()`` re-hashes a correct password whose
    hash is outdated (another hasher, fewer iterations) and saves only
    ``password`` with ``_password`` cleared, "shouldn't be considered password
    changes", and does so inside ``check_password()`` of that instance
    (``watch_password_checks``). Anything else that writes a hash
    (``set_password()``, ``set_unusable_password()``, assigning
    ``make_password()``, with or without ``update_fields``) is a change.

    Two logins at once with one outdated hash both re-hash it: the second finds the first's
    current hash stored. That is an upgrade too when the stored hash is of the password this
    check verified (one more hash, only then). A stored hash of another password (changed
    meanwhile) is never overwritten: ``keep_newer_password`` keeps it, so this save changes nothing.
    """
    checking = _checking_password.get()
    if (update_fields is None or set(update_fields) != {"password"} or getattr(user, "_password", None) is not None
            or checking is None or checking[0] is not user):
        return False
    if not _hasher_known(old_hash) or not _hasher_known(user.password) or _outdated(user.password):
        return False  # unusable or unknown hashes are never what an upgrade writes
    return _outdated(old_hash) or check_password(checking[1], old_hash)

