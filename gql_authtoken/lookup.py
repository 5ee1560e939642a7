"""The token lookup query: token, user and client by digest, compiled once.

Building and compiling ``AuthToken.objects.select_related(...).get(digest=...)``
costs more than running it (about 0.3 ms against 0.05 ms on SQLite), and it is
the same query for every request. So the ORM compiles it once per database
connection, ``AUTHTOKEN_SELECT_RELATED_LIST`` and digest count; each lookup
runs that SQL through the connection's cursor (query counting, execute
wrappers and the debug toolbar see it as usual) and builds the instances the
way ``QuerySet`` does (``Model.from_db`` and Django's related populators).

The user and the client are always joined, whatever
``AUTHTOKEN_SELECT_RELATED_LIST`` says (it can only add relations): both
decide whether the token is served (``is_active``, client rules), so they come
from the primary with the token, never lazily through a read router.

On PostgreSQL most of the query's cost is parsing and planning it (about
0.25 ms here against 0.05 ms for ``SELECT 1``). Django turns prepared
statements off by default, because a pooler in transaction mode (PgBouncer
before 1.21) breaks them; a project whose ``DATABASES`` ``OPTIONS`` set
``prepare_threshold`` says its connections allow them, and the lookup then
runs on a server-side binding cursor that psycopg prepares after that many
executions (Django's own queries keep their client-side binding).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from django.db import connections, router
from django.db.models.query import get_related_populators

from .conf import auth_settings
from .models import AuthToken

# Django 6.1 gives instances a fetch mode, passed along as QuerySet's ModelIterable does.
_FETCH_MODES = "fetch_mode" in inspect.signature(get_related_populators).parameters
# Always joined: they decide whether a token is served.
DECIDING_RELATIONS = ("user", "client")


def _preparing_cursor_class(connection: Any) -> Any:
    """Django's server-side binding cursor class when ``connection`` is PostgreSQL through psycopg 3
    with ``prepare_threshold`` set in its ``OPTIONS`` and client-side binding (Django's default);
    else None (the connection's own cursor prepares, or nothing does)."""
    options = connection.settings_dict.get("OPTIONS") or {}
    if (connection.vendor != "postgresql" or options.get("prepare_threshold") is None
            or options.get("server_side_binding") is True):
        return None
    from django.db.backends.postgresql import base

    return getattr(base, "ServerBindingCursor", None) if getattr(base, "is_psycopg3", False) else None


class PreparedLookup:
    """``AuthToken.objects.select_related(*related).filter(digest__in=digests)``, compiled."""

    def __init__(self, connection: Any, related: tuple[str, ...], digests: int):
        self.alias = connection.alias
        placeholder = [str(index) for index in range(digests)]  # distinct: an IN list drops repeats
        queryset = AuthToken.objects.using(self.alias).select_related(*related)  # fetch_tokens picks the primary
        queryset = queryset.filter(digest=placeholder[0]) if digests == 1 else queryset.filter(digest__in=placeholder)
        compiler = queryset.query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        if list(params) != placeholder:  # the digests must be the query's only parameters
            raise RuntimeError(f"Unexpected parameters in the token lookup: {params!r}")
        self.compiler = compiler
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start:self.end]]
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        fetch_mode = (queryset._fetch_mode,) if _FETCH_MODES else ()  # type: ignore[attr-defined,unused-ignore]
        self.from_db_options = dict(zip(["fetch_mode"], fetch_mode, strict=False))
        self.populators = get_related_populators(klass_info, select, self.alias, *fetch_mode)
        self.preparing_cursor = _preparing_cursor_class(connection)

    def fetch(self, digests: list[str]) -> list[AuthToken]:
        """The rows for ``digests`` (one query), with their related rows attached."""
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            if self.preparing_cursor is not None:
                # Inside Django's wrapper, so execute wrappers and query logging still see the query.
                cursor.cursor.close()
                cursor.cursor = self.preparing_cursor(connection.connection)
            cursor.execute(self.sql, digests)
            rows: Any = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        tokens = []
        for row in rows:
            token = AuthToken.from_db(self.alias, self.init_list, row[self.start:self.end], **self.from_db_options)
            for populator in self.populators:
                populator.populate(row, token)
            tokens.append(token)
        return tokens


@functools.lru_cache(maxsize=64)
def _prepared(connection: Any, related: tuple[str, ...], digests: int) -> PreparedLookup:
    # Per connection object (one per thread and alias): the compiler keeps it.
    return PreparedLookup(connection, related, digests)


def fetch_tokens(digests: list[str]) -> list[AuthToken]:
    """The ``AuthToken`` rows with one of ``digests``, each with its ``AUTHTOKEN_SELECT_RELATED_LIST``."""
    # The database tokens are written to, never a replica (as AuthToken.objects.on_primary()).
    connection = connections[router.db_for_write(AuthToken)]
    related = tuple(dict.fromkeys((*DECIDING_RELATIONS, *auth_settings.AUTHTOKEN_SELECT_RELATED_LIST)))
    return _prepared(connection, related, len(digests)).fetch(digests)
