"""The database a read that decides goes to: where the model is written (``router.db_for_write``).

A ``DATABASE_ROUTERS`` entry that sends reads to a replica would otherwise send
there every check of a credential: a replica that lags may still hold the old
password hash, a revoked token, a used link, or miss a row written a moment
ago. Every read that decides something about a token, a password, an address,
a link or a client reads here; lists shown to people (sessions, the admin)
may read replicas, which only show the lag (docs/deployment.md).

Code the package does not own reads where the router says: Django's
authentication backends look the user up with ``db_for_read``. ``login`` runs
them inside ``reading_primary()``, which ``PrimaryForCredentialChecks`` (put
first in ``DATABASE_ROUTERS``) turns into reads from the primary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.db import router, transaction

ROUTER_PATH = "gql_authtoken.primary.PrimaryForCredentialChecks"

_reading_primary: ContextVar[bool] = ContextVar("gql_authtoken_reading_primary", default=False)


def alias(model: Any, **hints: Any) -> str:
    """The alias ``model`` is written to."""
    return router.db_for_write(model, **hints)


def in_transaction(using: str) -> bool:
    """Whether the code runs inside ``transaction.atomic`` on the database ``using``
    (``ATOMIC_REQUESTS``, a view's own ``atomic``): a write made now holds its locks to the commit."""
    return transaction.get_connection(using).in_atomic_block


def manager(model: Any) -> Any:
    """``model``'s default manager, reading from the database it is written to."""
    return model._default_manager.db_manager(alias(model))


def users() -> Any:
    """The user model's default manager on its primary (custom manager methods such as
    ``get_by_natural_key`` included)."""
    return manager(get_user_model())


def refresh(instance: Any) -> None:
    """Every field of ``instance`` read again from the primary (``DoesNotExist`` when it is gone).

    All of them: ``refresh_from_db()`` alone keeps deferred fields deferred (a cached
    user's password hash), and a deferred field loads later where the router reads.
    """
    fields = [field.attname for field in instance._meta.concrete_fields]
    instance.refresh_from_db(using=alias(type(instance), instance=instance), fields=fields)


@contextmanager
def reading_primary() -> Iterator[None]:
    """While inside, ``PrimaryForCredentialChecks`` sends every read to the primary."""
    reset = _reading_primary.set(True)
    try:
        yield
    finally:
        _reading_primary.reset(reset)


class PrimaryForCredentialChecks:
    """A database router, first in ``DATABASE_ROUTERS``: inside ``reading_primary()`` (a login
    checking a password with Django's backends) reads go where the model is written; otherwise
    it says nothing and the next router decides."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return router.db_for_write(model, **hints) if _reading_primary.get() else None
