"""Carry tokens of other libraries over, so their clients stay logged in.

Reads the other library's tables in the same database directly (the library
itself need not be installed any more) through unmanaged models in a private
app registry, in batches, and writes equivalent ``AuthToken`` rows:

- ``drf`` (``authtoken_token``) and ``durin`` (``durin_authtoken``) stored the
  plaintext key: it is hashed into our SHA-512 digest and not kept.
- ``knox`` >= 5 stored ``sha512(token)``, our own digest: copied as is. Older
  knox (a ``salt`` column) hashed differently and cannot be carried over.
- ``rest_authtoken`` stored ``sha512(raw bytes)`` of a base64 token: kept in
  that form behind a prefix, which the lookup also accepts for those rows.

Running it twice imports nothing new; expired tokens are left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models.functions import Length

from . import clock, crypto, primary
from .models import AuthToken, Client, hold_client, lock_users, model_fields, password_digest

SOURCES = ("drf", "knox", "durin", "rest_authtoken")


class ImportRefused(Exception):
    """The source cannot be imported; the message says why."""


@dataclass(frozen=True)
class Imported:
    digest: str
    user_id: Any
    created: datetime
    expiry: datetime | None
    client: tuple[str, timedelta | None, str | None] | None = None  # name, ttl, rate
    source_row: Any = None  # the other library's row it came from (for --delete-source)


@dataclass
class ImportSummary:
    found: int = 0
    imported: int = 0
    already_imported: int = 0
    expired: int = 0
    clients_created: list[str] = field(default_factory=list)
    source_deleted: int = 0  # rows deleted from the other library's table (``delete_source``)
    users_gone: int = 0  # tokens left out: their user was deleted while the import ran


def _user_id_field() -> models.Field:
    pk = get_user_model()._meta.pk
    if isinstance(pk, (models.AutoField, models.BigAutoField, models.IntegerField)):
        return models.BigIntegerField(db_column="user_id")
    if isinstance(pk, models.UUIDField):
        return models.UUIDField(db_column="user_id")
    return models.CharField(max_length=255, db_column="user_id")


def _table(class_name: str, db_table: str, *, user: bool = True, **fields: models.Field) -> Any:
    """An unmanaged model of another library's table, in a registry of its own.

    Typed ``Any``: the model and its fields exist only at run time."""
    meta = type("Meta", (), {"managed": False, "db_table": db_table, "apps": Apps(),
                             "app_label": "gql_authtoken_import"})
    if user:
        fields["user_id"] = _user_id_field()
    return type(class_name, (models.Model,), {"__module__": __name__, "Meta": meta, **fields})


def _require(table: str, *, refuse_columns: dict[str, str] | None = None) -> None:
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            raise ImportRefused(f"There is no {table} table in this database.")
        columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
    for column, reason in (refuse_columns or {}).items():
        if column in columns:
            raise ImportRefused(reason)


def _drf(batch_size: int) -> Iterator[Imported]:
    _require("authtoken_token")
    Token = _table("Token", "authtoken_token", key=models.CharField(max_length=40, primary_key=True),
                   created=models.DateTimeField())
    for row in Token.objects.order_by("pk").iterator(chunk_size=batch_size):
        yield Imported(crypto.hash_token(row.key), row.user_id, row.created, None, source_row=row)


def _knox(batch_size: int) -> Iterator[Imported]:
    _require("knox_authtoken", refuse_columns={"salt": (
        "These knox tokens come from knox < 5, whose salted digests cannot be checked against a token "
        "without knox's old hashing; they cannot be carried over. Upgrade knox to >= 5 (which logs its "
        "users out) or keep knox for them.")})
    Knox = _table("Knox", "knox_authtoken", digest=models.CharField(max_length=128, primary_key=True),
                  created=models.DateTimeField(), expiry=models.DateTimeField(null=True))
    # Before the first batch: each batch commits, so a refusal later would leave half an import.
    if Knox.objects.annotate(length=Length("digest")).exclude(length=128).exists():  # another SECURE_HASH_ALGORITHM
        raise ImportRefused("Some knox digests are not SHA-512 (SECURE_HASH_ALGORITHM was changed); "
                            "they cannot be carried over.")
    for row in Knox.objects.order_by("created").iterator(chunk_size=batch_size):
        yield Imported(row.digest, row.user_id, row.created, row.expiry, source_row=row)


def _durin(batch_size: int) -> Iterator[Imported]:
    _require("durin_authtoken")
    _require("durin_client")
    DurinClient = _table("DurinClient", "durin_client", user=False, name=models.CharField(max_length=64),
                         token_ttl=models.DurationField(), throttle_rate=models.CharField(max_length=64, null=True))
    clients = {c.pk: (c.name, c.token_ttl, c.throttle_rate or None) for c in DurinClient.objects.all()}
    Durin = _table("Durin", "durin_authtoken", token=models.CharField(max_length=128),
                   client_id=models.BigIntegerField(), created=models.DateTimeField(),
                   expiry=models.DateTimeField(null=True))
    for row in Durin.objects.order_by("pk").iterator(chunk_size=batch_size):
        yield Imported(crypto.hash_token(row.token), row.user_id, row.created, row.expiry, clients[row.client_id],
                       source_row=row)


def _rest_authtoken(batch_size: int) -> Iterator[Imported]:
    _require("rest_authtoken_authtoken")
    validity = getattr(settings, "AUTH_TOKEN_VALIDITY", timedelta(days=1))  # that library's own setting
    RestAuthToken = _table("RestAuthToken", "rest_authtoken_authtoken",
                           hashed_token=models.BinaryField(primary_key=True), created=models.DateTimeField())
    for row in RestAuthToken.objects.order_by("created").iterator(chunk_size=batch_size):
        digest = crypto.REST_AUTHTOKEN_PREFIX + bytes(row.hashed_token).hex()
        yield Imported(digest, row.user_id, row.created, row.created + validity, source_row=row)


READERS = {"drf": _drf, "knox": _knox, "durin": _durin, "rest_authtoken": _rest_authtoken}


def _batches(rows: Iterator[Imported], size: int) -> Iterator[list[Imported]]:
    batch: list[Imported] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_tokens(
    source: str, *, dry_run: bool = False, batch_size: int = 1000, delete_source: bool = False
) -> ImportSummary:
    """Import the tokens of ``source`` (one of ``SOURCES``); see the module docstring.

    Each batch of ``batch_size`` rows is one transaction (with ``dry_run`` all of
    them, rolled back). ``delete_source``: in each batch's transaction, delete from
    the other library's table every row whose token is now ours (imported now or
    before), so keys that DRF and durin kept in plaintext do not outlive the move.
    Rows not carried over (expired ones) stay. Raises ``ImportRefused`` (the
    batches before were imported: a second run carries on).
    """
    if source not in READERS:
        raise ImportRefused(f"Unknown source {source!r}; choose one of {', '.join(SOURCES)}.")
    summary = ImportSummary()
    clients: dict[str, Client | None] = {}
    now = clock.now()
    batches = _batches(READERS[source](batch_size), batch_size)
    alias = primary.alias(AuthToken)  # where the locks of hold_client and lock_users are taken
    if dry_run:  # every batch in one transaction, rolled back
        with transaction.atomic(using=alias):
            for batch in batches:
                _import_batch(batch, summary, clients, now=now, dry_run=True, delete_source=delete_source)
            transaction.set_rollback(True)
        return summary
    for batch in batches:
        # One transaction per batch: the locks of its users end with it, so a login of one of
        # them waits for a batch, not for the whole import. A second run carries on.
        with transaction.atomic(using=alias):
            _import_batch(batch, summary, clients, now=now, dry_run=False, delete_source=delete_source)
    return summary


def _import_batch(batch: list[Imported], summary: ImportSummary, clients: dict[str, Client | None], *,
                  now: datetime, dry_run: bool, delete_source: bool) -> None:
    """Write one batch's new tokens (and with ``delete_source`` delete its carried-over rows),
    counting into ``summary``; inside the caller's transaction."""
    summary.found += len(batch)
    known = set(AuthToken.objects.on_primary().filter(digest__in=[r.digest for r in batch])
                .values_list("digest", flat=True))
    new = []
    for row in batch:
        if row.digest in known:
            summary.already_imported += 1
        elif row.expiry is not None and row.expiry <= now:
            summary.expired += 1
        else:
            new.append(AuthToken(
                user_id=row.user_id, digest=row.digest, created=row.created, expiry=row.expiry,
                last_used=None, client=_client(row.client, clients, summary, dry_run),
            ))
    if not dry_run:
        # As every token written: its client held first (models.hold_client; in key order, as a
        # deletion of several clients locks them), then its user locked (models.lock_user). A
        # user deleted since the source was read is left out.
        for client in sorted({token.client for token in new if token.client is not None}, key=lambda c: c.pk):
            if not hold_client(client):  # deleted by someone else since this import found it
                raise ImportRefused(f"The client {client.name!r} was deleted while the import ran; the batches "
                                    "before this one were imported. Run the command again to carry on.")
        stored = lock_users((token.user_id for token in new), *model_fields(get_user_model(), ("password",)))
        summary.users_gone += sum(token.user_id not in stored for token in new)
        new = [token for token in new if token.user_id in stored]
        for token in new:
            # Issued under the password hash stored now: a later change of it ends the token.
            token.password_digest = password_digest(stored[token.user_id].get("password"))
        AuthToken.objects.bulk_create(new)
    summary.imported += len(new)
    if delete_source:
        carried = known | {token.digest for token in new}
        rows = [row.source_row for row in batch if row.digest in carried]
        if rows:
            deleted, _per_model = type(rows[0]).objects.filter(pk__in=[r.pk for r in rows]).delete()
            summary.source_deleted += deleted


def _client(spec: Any, clients: dict[str, Client | None], summary: ImportSummary, dry_run: bool) -> Client | None:
    """Our ``Client`` of that name, created like the other library's when missing."""
    if spec is None:
        return None
    name, ttl, rate = spec
    if name not in clients:
        client = primary.manager(Client).filter(name=name).first()  # a replica may not have it yet
        if client is None:
            summary.clients_created.append(name)
            client = None if dry_run else Client.objects.create(name=name, token_ttl=ttl, throttle_rate=rate)
        clients[name] = client
    return clients[name]
