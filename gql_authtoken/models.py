"""Clients, hashed tokens, email confirmation tokens and pending registrations. No plaintext column anywhere."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import OperationalError, connections, models, transaction
from django.db.models import Q
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from . import primary
from .conf import auth_settings
from .throttling import parse_rate

# Token lifetimes up to 100 years: far enough from datetime's limits that no expiry overflows.
LONGEST_TOKEN_LIFETIME = timedelta(days=36500)


def validate_throttle_rate(value: str | None) -> None:
    """A DRF rate such as ``"100/hour"``: a positive count, a period starting with s, m, h or d."""
    if value in (None, ""):
        return
    try:
        count, _period = parse_rate(value)  # type: ignore[misc]
    except (ValueError, KeyError, IndexError, TypeError):
        count = 0
    if count <= 0:
        raise ValidationError(_("Enter a rate such as '100/hour'."), code="invalid")


def validate_token_ttl(value: timedelta | None) -> None:
    """Above 0 (a zero TTL issues dead tokens) and small enough that no expiry overflows."""
    if value is not None and not timedelta(0) < value <= LONGEST_TOKEN_LIFETIME:
        raise ValidationError(
            _("Enter a lifetime above 0 and at most %(days)d days, or nothing for tokens that never expire."),
            # Not "invalid": form DurationFields replace that code's message with their own.
            code="out_of_range", params={"days": LONGEST_TOKEN_LIFETIME.days})


def model_fields(model: Any, names: Any) -> list[str]:
    """Those of ``names`` that are fields of ``model`` (``is_active`` may be a plain attribute)."""
    found = []
    for name in names:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        found.append(name)
    return found


def lock_user(user: Any, *fields: str) -> dict[str, Any]:
    """Serialise writes that must not interleave for one user, on their row (inside a transaction).

    ``user``: a user or its primary key. Issuing and revoking: without it,
    under READ COMMITTED a login that commits while ``logout_all`` deletes
    could keep its token although it returned first. Confirmation links: using
    one deletes the user's others, and two used at once would deadlock. Every
    write that locks or deletes a user's token rows takes this lock first (the
    one lock order that cannot deadlock: user, then tokens). A no-op on SQLite,
    which serialises writers anyway. Returns the stored values of ``fields``
    (empty when the user is gone), read under the lock.
    """
    pk = getattr(user, "pk", user)
    found = lock_rows(primary.users().filter(pk=pk), *fields)
    return next(({"pk": key, **values} for key, values in found.items()), {})


def lock_rows(rows: Any, *fields: str) -> dict[Any, dict[str, Any]]:
    """Lock the rows of ``rows`` (a queryset of the user model or of one of its multi-table
    parents, on the primary, inside a transaction), in the order of Django's own save of a user
    (``Model._save_parents``): their rows in the parents' tables first, topmost first, then
    their own, each table in key order; so that a save and one of our writes wait for each other
    instead of deadlocking (brk85, brk86). FOR UPDATE, not FOR NO KEY UPDATE: a write pointing
    at a user (a link resent, a token imported, a row of the project's own) then waits for a
    deletion holding it, instead of committing in between and failing the deletion (an
    ``IntegrityError``). Returns each key's stored ``fields`` (attribute values: a foreign key's
    id), read under the lock; the keys of rows that exist."""
    parents = rows.model._meta.get_parent_list()
    if parents:
        keys = list(rows.values_list(*[parent._meta.pk.name for parent in parents]))
        for index, parent in reversed(list(enumerate(parents))):
            held = parent._base_manager.db_manager(rows.db).filter(pk__in=[key[index] for key in keys])
            list(held.select_for_update(of=own_row(rows.db)).order_by("pk").values_list("pk", flat=True))
    locked = rows.select_for_update(of=own_row(rows.db)).only(*(fields or ("pk",))).order_by("pk")
    return {row.pk: {name: row.serializable_value(name) for name in fields} for row in locked}


def own_row(alias: str) -> tuple[str, ...]:
    """``select_for_update(of=...)`` locking the queried model's own rows only, not those of the
    tables it joins (a multi-table parent, a related row), where the database can say so."""
    return ("self",) if connections[alias].features.has_select_for_update_of else ()


def password_digest(password_hash: str | None) -> str:
    """The digest that ties a token (or an email change link) to the stored password hash it was
    issued under: hex SHA-256 of ``password_hash``; "" for none (a user model without a password).
    Like the HMAC Django keeps in a session (``get_session_auth_hash``), but not keyed with
    ``SECRET_KEY``: a token must keep working on every host while the key is rotated. Only a
    hash of the hash: with Django's salted hashers it tells nothing without the user's row,
    which holds the hash itself."""
    return "" if password_hash is None else hashlib.sha256(password_hash.encode()).hexdigest()


@sensitive_variables("password")
def same_password(checked_hash: str | None, stored_hash: str | None, password: str | None) -> bool:
    """Whether ``stored_hash`` (read under the user's lock) still holds the password a caller
    checked: it is the hash the caller checked, or another hash of that same ``password``, which a
    login's re-hash of an outdated hash stored meanwhile (one more hash of it, only then)."""
    return stored_hash == checked_hash or (
        password is not None and stored_hash is not None and check_password(password, stored_hash))


def rests_on_password(digest: str, password_hash: str | None) -> bool:
    """Whether a row that kept ``digest`` (``password_digest``) still rests on the stored hash
    ``password_hash``; True for a row that kept none (made before it was kept, or by code)."""
    return not digest or constant_time_compare(digest, password_digest(password_hash))


def user_transaction() -> transaction.Atomic:
    """``transaction.atomic`` on the user model's primary. The token and link rows live on the
    same database (their foreign keys point at the user), so their writes inside are part of it."""
    return transaction.atomic(using=primary.alias(get_user_model()))


@contextmanager
def user_locked(user: Any, *fields: str) -> Iterator[dict[str, Any]]:
    """A ``user_transaction`` that first takes ``lock_user(user, *fields)``; yields what that
    returns (empty when the user is gone)."""
    with user_transaction():
        yield lock_user(user, *fields)


def lock_users(user_ids: Any, *fields: str, batch_size: int = 1000) -> dict[Any, dict[str, Any]]:
    """``lock_user`` for each of these user keys, in key order, so two such calls cannot deadlock
    each other: before writing or deleting token rows of several users. ``batch_size`` keys at a
    time (a query each, and one per multi-table parent). Returns each existing user's stored
    ``fields`` (``lock_rows``)."""
    keys = sorted(set(user_ids))
    found: dict[Any, dict[str, Any]] = {}
    for start in range(0, len(keys), batch_size):
        found.update(lock_rows(primary.users().filter(pk__in=keys[start:start + batch_size]), *fields))
    return found


def hold_client(client: Client | None, *, nowait: bool = False) -> bool:
    """Keep ``client``'s row from being deleted until the transaction ends; False when it is gone.

    Before a token naming ``client`` is written: Django checks foreign keys at the commit, so a
    token naming a client deleted meanwhile would fail it (an ``IntegrityError``, a 500). On
    PostgreSQL this takes ``FOR KEY SHARE``, the lock the foreign key check itself takes: other
    logins of the client and edits of its row (but of its unique ``name``) do not wait for it; a
    deletion does, and then
    deletes the token too (``receivers.on_client_deleting``). Elsewhere (SQLite, which lets one
    writer in at a time) it is a read inside the transaction. ``None`` (no client): True.

    Taken before the user's lock, as a client's deletion takes the client's row before the
    users of its tokens: a login never holds its user while it waits for a deletion (which,
    deleting several clients, or writing an admin log entry that points at that user, would
    wait for it in turn: a deadlock).

    ``nowait``: for a caller that may already hold its user's lock (a login whose client is
    known only once ``authenticate``, which may have saved an upgraded hash, returned): False
    at once, without waiting, when another transaction holds the client's row with a lock that
    blocks ``FOR KEY SHARE`` (PostgreSQL's ``NOWAIT``, in a savepoint): a deletion, which would
    wait for the user next, a change of ``name``, a ``select_for_update()``.
    """
    if client is None:
        return True
    alias = primary.alias(Client)
    connection = connections[alias]
    quote = connection.ops.quote_name
    postgresql = connection.vendor == "postgresql"
    lock = (" FOR KEY SHARE NOWAIT" if nowait else " FOR KEY SHARE") if postgresql else ""
    sql = f"SELECT 1 FROM {quote(Client._meta.db_table)} WHERE {quote(str(Client._meta.pk.column))} = %s{lock}"
    try:
        with (transaction.atomic(using=alias) if nowait and postgresql else nullcontext()), \
                connection.cursor() as cursor:
            cursor.execute(sql, [client.pk])
            return cursor.fetchone() is not None
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != "55P03":  # lock_not_available: NOWAIT refused
            raise
        return False  # a deletion holds the row


def lock_token_users(tokens: Any) -> None:
    """``lock_users`` for every user with a row in the ``AuthToken`` queryset ``tokens`` (read on the primary)."""
    lock_users(tokens.using(primary.alias(AuthToken)).values_list("user_id", flat=True))


class Client(models.Model):
    """An API client (``web``, ``ios``, ``cli``...) with its own token TTL and rate."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    token_ttl = models.DurationField(
        _("token TTL"),
        null=True,
        blank=True,
        help_text=_("How long a token of this client lives; empty means it never expires."),
        validators=[validate_token_ttl],
    )
    throttle_rate = models.CharField(
        _("throttle rate"),
        max_length=64,
        null=True,
        blank=True,
        help_text=_("A DRF rate such as '1000/hour'; empty means no per-client limit."),
        validators=[validate_throttle_rate],
    )

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def max_token_lifetime() -> timedelta | None:
    """``MAX_TOKEN_LIFETIME``: no token lives longer after its creation, whatever its expiry."""
    return auth_settings.MAX_TOKEN_LIFETIME


def _expired(now: datetime) -> Q:
    cap = max_token_lifetime()
    expired = Q(expiry__lte=now)
    return expired if cap is None else expired | Q(created__lte=now - cap)


class AuthTokenQuerySet(models.QuerySet):
    def on_primary(self) -> AuthTokenQuerySet:
        """These rows read from the database tokens are written to (``router.db_for_write``), never
        a read replica, which may still hold a row revoked a moment ago or miss one just issued. For
        every read that decides whether a token is live; lists shown to people may read replicas."""
        return self.using(primary.alias(self.model))

    def active(self, now: datetime) -> AuthTokenQuerySet:
        """Tokens that still authenticate at ``now`` (expiry and ``MAX_TOKEN_LIFETIME``)."""
        return self.exclude(_expired(now))

    def expired(self, now: datetime) -> AuthTokenQuerySet:
        return self.filter(_expired(now))


class AuthToken(models.Model):
    """One login: a user's session. Only the SHA-512 digest of the token is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="auth_tokens",
        verbose_name=_("user"),
    )
    client = models.ForeignKey(
        Client,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="auth_tokens",
        verbose_name=_("client"),
    )
    # SHA-512 hex, or for tokens imported from django-rest-authtoken its own
    # digest form with a "rest_authtoken$" prefix (see crypto.py).
    digest = models.CharField(_("digest"), max_length=160, unique=True)
    created = models.DateTimeField(_("created"))
    expiry = models.DateTimeField(_("expiry"), null=True, blank=True, db_index=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=256, blank=True, default="")
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # The user's password_digest when the token was issued: a new hash written any way at all
    # (QuerySet.update(), raw SQL) no longer matches, and the token stops working, as Django's
    # sessions do. "" on rows from before it was kept: not checked.
    password_digest = models.CharField(_("password digest"), max_length=64, blank=True, default="",
                                       db_default="", editable=False)

    objects = AuthTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("token")
        verbose_name_plural = _("tokens")
        indexes = [models.Index(fields=["user", "-created"], name="gql_authtok_user_created")]

    def __str__(self) -> str:
        # Never the digest: it is not a token, and must not look like one.
        client = self.client.name if self.client is not None else "-"
        return f"{self.user} ({client}, {self.created:%Y-%m-%d %H:%M})"

    def effective_expiry(self) -> datetime | None:
        """When the token stops working: its expiry, or earlier ``created + MAX_TOKEN_LIFETIME``
        (the cap also ends tokens issued before it was set and imported ones without expiry)."""
        cap = max_token_lifetime()
        if cap is None:
            return self.expiry
        limit = self.created + cap
        return limit if self.expiry is None else min(self.expiry, limit)

    def rests_on_stored_password(self) -> bool:
        """Whether the user's stored password hash is still the one this token was issued under
        (``password_digest``); True for a row without one. Reads ``user.password``: only for a
        row just read with its user (cached copies have no hash, and need none: ``cache.py``)."""
        return rests_on_password(self.password_digest, getattr(self.user, "password", None))

    def is_expired(self, now: datetime) -> bool:
        return has_passed(self.effective_expiry(), now)


def has_passed(expiry: datetime | None, now: datetime) -> bool:
    """Whether a token with this (effective) expiry has expired at ``now``; None never does."""
    return expiry is not None and expiry <= now


class ConfirmationPurpose(models.TextChoices):
    """What using a confirmation link does (see ``email_confirmation.consume_confirmation_token``)."""

    # Completes the user's pending registration: sets REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD.
    REGISTRATION = "registration", _("complete the registration")
    # Only records that the address was confirmed; never changes the user.
    ADDRESS = "address", _("confirm the address only")
    # Makes the link's address the user's new one (``changeEmail``); nothing else.
    EMAIL_CHANGE = "email_change", _("change the address")


class EmailConfirmationToken(models.Model):
    """A single-use email confirmation link, stored as a digest, bound to one address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="email_confirmation_tokens",
        verbose_name=_("user"),
    )
    email = models.EmailField(_("email"))
    digest = models.CharField(_("digest"), max_length=128, unique=True)
    created = models.DateTimeField(_("created"))
    # Set when the link is used: the record that this address was confirmed.
    confirmed = models.DateTimeField(_("confirmed"), null=True, blank=True)
    purpose = models.CharField(_("purpose"), max_length=32, choices=ConfirmationPurpose.choices)
    # An email change link: the password_digest of the hash its request was checked against; a
    # new password hash, saved or not, ends the link. "" for other links and older rows.
    password_digest = models.CharField(_("password digest"), max_length=64, blank=True, default="",
                                       db_default="", editable=False)

    class Meta:
        verbose_name = _("email confirmation token")
        verbose_name_plural = _("email confirmation tokens")

    def __str__(self) -> str:
        return f"{self.user} <{self.email}>"


class PendingRegistration(models.Model):
    """An account made by ``register`` whose address is not confirmed yet.

    Only a pending registration can be completed by a link, and completing it
    removes this row. Accounts made any other way (``createsuperuser``,
    ``create_user``, the admin) never have one, so no link or resend can
    activate them, and neither can an old link once the registration is done.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="pending_registration",
        verbose_name=_("user"),
    )
    created = models.DateTimeField(_("created"))

    class Meta:
        verbose_name = _("pending registration")
        verbose_name_plural = _("pending registrations")

    def __str__(self) -> str:
        return str(self.user)
