"""Receivers that keep the token cache true to the database, whoever changes it.

Every deletion of an ``AuthToken`` row (the package, the admin, a cascade from
its user or client, ``QuerySet.delete()``) marks its digest; a change to a
``Client`` marks the client; a saved user goes through
``user_changes.user_saved``, which revokes or marks as the change requires.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from . import cache as token_cache
from . import models, primary
from .accounts import user_changes
from .models import AuthToken, Client, EmailConfirmationToken, lock_rows

# Saves that change nothing a token lookup serves (Django's login writes last_login).
HARMLESS_UPDATES = frozenset({"last_login"})
_BEFORE_ATTR = "_gql_authtoken_before"


def _watched_fields(model: Any, update_fields: Any) -> list[str]:
    names = models.model_fields(model, user_changes.watched_user_fields())
    return [name for name in names if update_fields is None or name in update_fields]


def _row_read_before(sender: Any, instance: Any) -> tuple[Any, Any] | None:
    """The model and key of the stored row holding user fields that a save of ``instance`` may
    change, read before the save; None when it can only insert a new one (no key).

    Any save with a key may update a stored row, even of an instance Django counts as new
    (``_state.adding``): one built in code (``User(pk=7, ...).save()``), deserialised by
    ``loaddata``, saved with ``force_update``, or a new multi-table child created on an
    existing row (``Staff(user_ptr=user)``, ``Vendor(account_ptr_id=...)``: Django updates the
    parent's row, then inserts the child's). The row is that of the most derived of the user
    model and its multi-table parents that ``sender`` is: the user model's for the user model,
    its proxies and children; ``Account``'s for a parent ``Account`` and its other children. By
    that model's own key (the user model may have a key of its own), or before Django copies it
    there (``Model._save_parents``, after ``pre_save``) by ``sender``'s link to that model."""
    user_model = get_user_model()
    row_model = next(model for model in (user_model, *user_model._meta.get_parent_list())
                     if issubclass(sender, model))
    key = getattr(instance, row_model._meta.pk.attname)
    link = sender._meta.get_ancestor_link(row_model)  # None for the model itself and its proxies
    if key is None and link is not None and link.related_model._meta.concrete_model is row_model._meta.concrete_model:
        key = getattr(instance, link.attname)
    return (row_model, key) if key is not None else None


def on_user_saving(sender: Any, instance: Any, update_fields: Any = None, raw: bool = False, using: Any = None,
                   **kwargs: Any) -> None:
    # The stored values before this save: only the database knows them. None left from a save that failed.
    instance.__dict__.pop(_BEFORE_ATTR, None)
    row = _row_read_before(sender, instance)
    if row is None:
        return
    model, key = row
    names = _watched_fields(model, update_fields)
    if raw:  # loaddata writes the sender's own table only, never its parents'
        own = {field.name for field in sender._meta.concrete_model._meta.local_concrete_fields}
        names = [name for name in names if name in own]
    if names:
        stored = model._base_manager.using(using).filter(pk=key)
        rehash = update_fields is not None and set(update_fields) == {"password"} and (
            user_changes.checking_own_password(instance))
        if rehash and connections[using].in_atomic_block:
            # Django's re-hash at a login, in the check's transaction (user_changes.watch_password_checks):
            # a password change can neither commit between this read and the save, nor be in flight unseen.
            before = next(iter(lock_rows(stored, *names).values()), {})
        else:
            before = stored.values(*names).first() or {}
        if rehash:
            user_changes.keep_newer_password(instance, before.get("password"))
        instance.__dict__[_BEFORE_ATTR] = before


def on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, using: Any = None,
                  **kwargs: Any) -> None:
    before = instance.__dict__.pop(_BEFORE_ATTR, {})
    # Created with no stored row before it: nothing to compare. A new multi-table child may have
    # updated an existing row of the user model or of a parent (``before``).
    if (created and not before) or (update_fields is not None and set(update_fields) <= HARMLESS_UPDATES):
        return
    user_model = get_user_model()
    of_user = type(instance)._meta.concrete_model is user_model._meta.concrete_model
    user = instance if of_user else _user_on_row(sender, instance, using)
    if user is not None:
        user_changes.user_saved(user, before=before, update_fields=update_fields, saved=instance)


def _user_on_row(sender: Any, instance: Any, using: Any) -> Any:
    """The user model's instance whose row ``instance`` shares (``_row_read_before``: an instance
    of a multi-table parent of the user model, of another child of one, or of a child of the
    user model); None when no user has that row."""
    row_model, key = _row_read_before(sender, instance) or (None, None)
    if row_model is None:
        return None
    return get_user_model()._base_manager.using(using).filter(**{row_model._meta.pk.name: key}).first()


_USERS_LOCKED = "_gql_authtoken_users_locked"


def _user_key(instance: Any) -> Any:
    """The user model's key of ``instance``: a user, a proxy's or a multi-table child's (whose own
    key may be another field: ``Partner.pid``, not the member's ``uid``)."""
    return getattr(instance, get_user_model()._meta.pk.attname)


def on_user_deleting(sender: Any, instance: Any, using: str | None = None, origin: Any = None,
                     **kwargs: Any) -> None:
    # Inside the deletion's transaction, before Django deletes any of the user's token rows:
    # user first, then tokens, the lock order of every write resting on a token (models.lock_user).
    # Django sends this once per user: a deletion of several (the admin's "delete selected", a
    # QuerySet) locks all of them at the first, in lock_users' order (on a multi-table model
    # every parent's rows before any user's own row, each table in key order), so that it cannot
    # deadlock with lock_users (a revocation of several users' tokens, the fill, an import).
    # What is locked is kept on the deletion's transaction block, as for clients below.
    key = _user_key(instance)
    alias = using or primary.alias(get_user_model())
    blocks = connections[alias].atomic_blocks
    deletion = blocks[-1] if blocks else None
    locked: set[Any] = getattr(deletion, _USERS_LOCKED, set())
    if key not in locked:
        keys = {key}
        if not locked and isinstance(origin, QuerySet) and issubclass(origin.model, get_user_model()):
            keys |= set(origin.values_list(get_user_model()._meta.pk.attname, flat=True))
        if deletion is not None:
            setattr(deletion, _USERS_LOCKED, locked | keys)
        models.lock_users(keys)
    # Django collected the rows to delete before this lock: a login, an API key or a confirmation
    # link that committed in between (each locks the user, so none can follow) would fail the
    # deletion with an IntegrityError. Their rows go now; the collected ones are deleted again,
    # finding nothing.
    for model in (AuthToken, EmailConfirmationToken):
        model._default_manager.using(using).filter(user_id=key).delete()


_CLIENTS_LOCKED = "_gql_authtoken_clients_locked"


def on_client_deleting(sender: Any, instance: Client, using: str | None = None, origin: Any = None,
                       **kwargs: Any) -> None:
    # The clients' rows first: a login naming one holds that row, before its user's, until it
    # commits (models.hold_client), and none can come after this lock. Then, as every
    # revocation, the users of their tokens (models.lock_user: a change resting on one of them
    # is waited for), and the tokens (CASCADE), those committed since Django collected the
    # rows to delete included: they would fail the deletion with an IntegrityError.
    # Django sends this once per client: a deletion of several (the admin's "delete selected",
    # a QuerySet) locks all of them at the first, then all their users, so that no user is
    # locked before a client (the order of a login). What is locked is kept on the deletion's
    # own transaction block (Django's Collector opens one per delete()), so a QuerySet deleted
    # again (a retry, a module-level QuerySet) locks again; and a client that its QuerySet no
    # longer matches when read again (a filter on its tokens) is locked at its own call.
    alias = using or primary.alias(Client)
    blocks = connections[alias].atomic_blocks
    deletion = blocks[-1] if blocks else None
    locked: set[Any] = getattr(deletion, _CLIENTS_LOCKED, set())
    if instance.pk in locked:
        return  # an earlier client's call of this deletion did it
    keys = {instance.pk}
    if not locked and isinstance(origin, QuerySet) and issubclass(origin.model, Client):
        keys |= set(origin.values_list("pk", flat=True))
    if deletion is not None:
        setattr(deletion, _CLIENTS_LOCKED, locked | keys)
    rows = Client._base_manager.using(alias).select_for_update().filter(pk__in=keys).order_by("pk")
    list(rows.values_list("pk", flat=True))
    tokens = AuthToken._default_manager.using(alias).filter(client_id__in=keys)
    models.lock_token_users(tokens)
    tokens.delete()


def on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Its tokens went with it (CASCADE), each marked; the user mark covers the rest.
    token_cache.invalidate_user_tokens(_user_key(instance))


def on_token_deleted(sender: Any, instance: AuthToken, **kwargs: Any) -> None:
    token_cache.forget([instance.digest])


def on_token_saved(sender: Any, instance: AuthToken, created: bool, **kwargs: Any) -> None:
    # Code (or a shell) that saves a token row, an expiry moved earlier say: cached copies reload.
    if not created:
        token_cache.forget([instance.digest])


def on_client_changed(sender: Any, instance: Client, created: bool = False, **kwargs: Any) -> None:
    if not created:
        token_cache.forget_client(instance.pk)


def _for(models: tuple[type, ...], receiver: Any) -> Any:
    """``receiver`` for ``models`` and their proxies and subclasses.

    Django sends a model's signals with the class that was saved as sender, so
    a receiver connected for ``User`` alone would miss ``StaffUser(User)``
    proxies (their admin pages included).
    """

    def dispatch(sender: Any, **kwargs: Any) -> None:
        if isinstance(sender, type) and issubclass(sender, models):
            receiver(sender=sender, **kwargs)

    return dispatch


def connect() -> None:
    user_model: Any = get_user_model()
    # A multi-table user model keeps its password (and maybe is_active, email) in a parent's table:
    # a save of that parent (its admin, set_password() on it, a stale instance's re-hash) writes the
    # user's row as well. Deleting a parent deletes the user row through Django's cascade, which
    # sends the user model's own delete signals.
    user_rows = (user_model, *user_model._meta.get_parent_list())
    for name, signal, models_, receiver in [
        ("user_saving", pre_save, user_rows, on_user_saving),
        ("user_saved", post_save, user_rows, on_user_saved),
        ("user_deleting", pre_delete, (user_model,), on_user_deleting),
        ("user_deleted", post_delete, (user_model,), on_user_deleted),
        ("token_deleted", post_delete, (AuthToken,), on_token_deleted),
        ("token_saved", post_save, (AuthToken,), on_token_saved),
        ("client_saved", post_save, (Client,), on_client_changed),
        ("client_deleting", pre_delete, (Client,), on_client_deleting),
        ("client_deleted", post_delete, (Client,), on_client_changed),
    ]:
        signal.connect(_for(models_, receiver), weak=False, dispatch_uid=f"gql_authtoken.{name}")
