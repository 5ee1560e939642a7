"""Token lifecycle: issuing, authenticating, refreshing, rotating and revoking tokens.

The only code that writes ``AuthToken`` rows. Plain Python and the Django ORM
(no GraphQL or DRF import); the ``a``-prefixed twins run the same code through
``sync_to_async`` for async resolvers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model, user_logged_out
from django.db import transaction
from django.db.models import Case, DateTimeField, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from . import cache as token_cache
from . import callers, clients, clock, crypto, inputs, lookup, models, primary, signals
from .conf import auth_settings
from .exceptions import (
    InactiveUser,
    InvalidCredentials,
    InvalidToken,
    InvalidTokenHeader,
    NotAuthenticated,
    TokenExpired,
    UnknownClient,
)
from .models import AuthToken, Client, ConfirmationPurpose, EmailConfirmationToken, user_locked

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued or rotated token: the only place the plaintext exists (never in its repr).

    Shaped like django-rest-durin's ``AuthToken`` as its ``LoginView`` hooks get
    it (``token_obj``): ``token``, ``expiry``, ``created``, ``user``, ``client``,
    ``pk`` / ``id``, ``has_expired`` and ``expires_in``; ``instance`` is the
    ``AuthToken`` itself.
    """

    token: str = field(repr=False)
    instance: AuthToken

    @property
    def expiry(self) -> datetime | None:
        return self.instance.expiry

    @property
    def created(self) -> datetime:
        return self.instance.created

    @property
    def pk(self) -> Any:
        return self.instance.pk

    @property
    def id(self) -> Any:
        return self.instance.pk

    @property
    def user(self) -> Any:
        return self.instance.user

    @property
    def client(self) -> Client | None:
        return self.instance.client

    @property
    def has_expired(self) -> bool:
        return self.instance.is_expired(clock.now())

    @property
    def expires_in(self) -> str:
        """The token's lifetime in words, as durin's ``expires_in`` (``lifetime_in_words``)."""
        return lifetime_in_words(self.instance.created, self.instance.effective_expiry())


def lifetime_in_words(created: datetime, expiry: datetime | None) -> str:
    """A token's whole lifetime, from ``created`` to ``expiry``, in words ("1 day"); "N/A"
    without expiry. django-rest-durin's ``expires_in`` / ``expires_in_str``, worded by Django's
    ``timesince`` rather than the humanize package."""
    if expiry is None:
        return "N/A"
    return timesince(created, now=expiry)


def compute_expiry(*, created: datetime, start: datetime, client: Client | None) -> datetime | None:
    """``start`` plus the client's TTL, never past ``created + MAX_TOKEN_LIFETIME``."""
    ttl = clients.token_ttl(client)
    expiry = None if ttl is None else start + ttl
    cap = auth_settings.MAX_TOKEN_LIFETIME
    if cap is not None:
        limit = created + cap
        expiry = limit if expiry is None else min(expiry, limit)
    return expiry


# --- issuing ------------------------------------------------------------------


def new_token() -> str:
    return crypto.generate_token(
        length=auth_settings.TOKEN_CHARACTER_LENGTH, prefix=auth_settings.TOKEN_PREFIX
    )


@sensitive_variables("token", "password")
def issue_token(
    user: AbstractBaseUser,
    *,
    client: Client | None = None,
    request: HttpRequest | None = None,
    password_hash: str | None = None,
    password: str | None = None,
    session: AuthToken | None = None,
) -> IssuedToken:
    """Create a session for ``user`` and return its token (shown once, stored hashed).

    ``password_hash`` (the hash a login checked) or ``session`` (the token a
    request authenticated with) is the credential the new token rests on: it
    is checked again under the user's row lock, so a password change,
    deactivation or revocation that committed while the caller worked leaves
    no token behind (``InvalidCredentials`` / ``InactiveUser`` /
    ``InvalidToken``). The change's own revocation serialises on the same lock.
    ``password`` (the one the login checked) lets a stored hash other than ``password_hash``
    pass when it is of that same password: another login at once re-hashed an outdated hash
    (one more hash, only then).
    ``UnknownClient`` when ``client`` was deleted since the caller found it
    (``models.hold_client``).
    """
    token = new_token()
    with models.user_transaction():
        if not models.hold_client(client):
            raise UnknownClient()  # deleted since the caller found it
        stored = models.lock_user(user, *models.model_fields(user, ("password", "is_active")))
        if password_hash is not None:
            if not models.same_password(password_hash, stored.get("password"), password):
                raise InvalidCredentials()  # a new password (or none) since the login checked it
            if not stored.get("is_active", True):
                raise InactiveUser()
        if session is not None:
            require_live(session)
        created = clock.now()
        # django-stubs types the FK as the type-checking settings' own user model; any AUTH_USER_MODEL
        # instance is right here. The instance, not its pk: ``IssuedToken.user`` then needs no query.
        instance = AuthToken.objects.create(  # type: ignore[misc]
            user=user,
            client=client,
            digest=crypto.hash_token(token),
            created=created,
            expiry=compute_expiry(created=created, start=created, client=client),
            last_used=created,
            user_agent=callers.user_agent(request),
            ip_address=callers.client_ip(request),
            password_digest=models.password_digest(stored.get("password")),
        )
    return IssuedToken(token=token, instance=instance)


@sensitive_variables("value", "parts", "token")
def parse_authorization_header(value: str | bytes) -> str | None:
    """The token in an ``Authorization`` header, None when it is not ours.

    Follows DRF's TokenAuthentication: the keyword (one of
    ``AUTH_HEADER_PREFIXES``) matches case-insensitively, and malformed values
    raise ``InvalidTokenHeader`` with DRF's own messages.
    """
    if isinstance(value, str):
        try:
            value = value.encode("iso-8859-1")  # the HTTP header encoding, as DRF
        except UnicodeEncodeError:
            raise InvalidTokenHeader(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from None
    parts = value.split()
    keywords = {prefix.lower().encode() for prefix in auth_settings.AUTH_HEADER_PREFIXES}
    if not parts or parts[0].lower() not in keywords:
        return None
    if len(parts) == 1:
        raise InvalidTokenHeader(_("Invalid token header. No credentials provided."))
    if len(parts) > 2:
        raise InvalidTokenHeader(_("Invalid token header. Token string should not contain spaces."))
    try:
        token = parts[1].decode("ascii")
    except UnicodeDecodeError:
        token = None
    if token is None or not token.isprintable():
        raise InvalidTokenHeader(
            _("Invalid token header. Token string should not contain invalid characters.")
        )
    return token


def load_token(digest: str, legacy_digest: str | None = None) -> AuthToken:
    """The ``AuthToken`` with this digest (or an imported row's legacy digest),
    with its user and client, in one query (compiled once, see ``lookup.py``).
    ``InvalidToken`` when there is none, or when its user's password hash is no longer the
    one it was issued under (``AuthToken.rests_on_stored_password``)."""
    found = lookup.fetch_tokens([digest] if legacy_digest is None else [digest, legacy_digest])
    if not found:
        raise InvalidToken()
    if len(found) > 1:  # both forms at once: a new token that is also an imported one, never seen
        raise InvalidToken()
    if not found[0].rests_on_stored_password():  # a new hash written without save() (QuerySet.update)
        raise InvalidToken()
    return found[0]


@sensitive_variables("token")
def token_digests(token: str) -> tuple[str, str | None]:
    """The digests a lookup of ``token`` tries: ours, and the django-rest-authtoken form only when
    ``ACCEPT_REST_AUTHTOKEN_TOKENS`` says such tokens were imported (otherwise it costs nothing)."""
    legacy = crypto.rest_authtoken_digest(token) if auth_settings.ACCEPT_REST_AUTHTOKEN_TOKENS else None
    return crypto.hash_token(token), legacy


@sensitive_variables("token")
def authenticate_token(token: str, *, use_cache: bool = False) -> AuthToken:
    """The live ``AuthToken`` for ``token``: one query, or none on a cache hit.

    The lookup is by digest through a unique index, so its timing depends on
    the digest, never on how much of a real token an attacker guessed.
    Expiry, ``MAX_TOKEN_LIFETIME`` and the user's ``is_active`` are checked on
    cache hits too. Raises ``InvalidToken`` or ``TokenExpired``.
    """
    if inputs.refused(token=token):
        raise InvalidToken()
    return authenticate_digest(*token_digests(token), use_cache=use_cache)


def authenticate_digest(digest: str, legacy_digest: str | None = None, *, use_cache: bool = False) -> AuthToken:
    """``authenticate_token`` for a token known by its digests (``token_digests``): for callers
    that keep no plaintext, such as an open WebSocket connection checking its token again."""
    instance, entry = _find(digest, legacy_digest, use_cache=use_cache)
    current = clock.now()
    if instance.is_expired(current):
        instance, entry = _expire(instance, current), None  # returns only the row a refresh kept
    if not _user_active(instance):
        # An ``invalid_token`` (clients log in again, and then learn
        # ``inactive_user`` once the password matched), worded as DRF words it.
        raise InvalidToken(_("User inactive or deleted."))
    if entry is not None and instance.digest == digest:  # the cached copy then carries the new last_used
        touch(instance, current, then=lambda: token_cache.update(digest, legacy_digest, entry, load_token))
    else:
        touch(instance, current)
    return instance


@sensitive_variables("token")
def is_live(token: str, *, use_cache: bool = False) -> bool:
    """Whether ``token`` would authenticate now, found as ``authenticate_token`` finds it but not
    used: no ``last_used`` write, no expired row deleted, no signal. For a request that carries a
    token it does not use (the §11 cookie beside a token header, in the admin, in a request the
    CSRF check refused), which must change nothing."""
    if inputs.refused(token=token):
        return False
    try:
        instance, _entry = _find(*token_digests(token), use_cache=use_cache)
    except InvalidToken:
        return False
    return not instance.is_expired(clock.now()) and _user_active(instance)


def _find(digest: str, legacy_digest: str | None, *,
          use_cache: bool) -> tuple[AuthToken, token_cache.CachedToken | None]:
    """The token row for these digests and its cache entry (None: read from the database)."""
    entry = None
    if use_cache:  # this process's own recent hit first: no round trip, and no check of the cache's set-up
        entry = token_cache.recall(digest, legacy_digest)
        if entry is None and token_cache.enabled():
            entry = token_cache.lookup(digest, legacy_digest, load_token)
    return (entry.instance if entry is not None else load_token(digest, legacy_digest)), entry


def _expire(instance: AuthToken, now: datetime) -> AuthToken:
    """Delete a token presented after its expiry and raise ``TokenExpired`` (``InvalidToken``
    when another request deleted it first). A refresh that committed after ``instance`` was read
    (or cached, its mark not yet seen here) kept the token: its row, read again, is returned
    and served, and nothing is deleted.

    The deletion is a revocation: under the user's row lock (``models.lock_user``), and only if
    the token is still expired there. ``token_expired`` goes out once, with the deletion. Inside
    a transaction (``ATOMIC_REQUESTS``) the request answers ``TokenExpired`` and the deletion
    waits: held to the end of the request, that lock would come before the locks a later
    mutation of the request takes (an address, another user). It waits for the end of the view
    (``deletions_after_view``, which the token middleware enters outside the transaction), so
    it happens whether the request committed or rolled back (DRF rolls back every error it
    answers); without the middleware, for the commit.
    """
    def delete() -> bool:
        with user_locked(instance.user_id):
            deleted, _per_model = AuthToken.objects.filter(pk=instance.pk).expired(now).delete()
        if deleted:
            # Sent while a request authenticates: a receiver that fails must not turn the answer
            # (token_expired) into a 500. Django logs its error (logger django.dispatch).
            signals.token_expired.send_robust(sender=AuthToken, instance=instance, user=instance.user)
        return bool(deleted)

    alias = primary.alias(AuthToken)
    if not primary.in_transaction(alias):
        if delete():
            raise TokenExpired()
        kept = _live_row(instance, now)  # not expired there: kept by a refresh, or gone
        if kept is None:
            raise InvalidToken()  # not the row the deletion found unexpired
        return kept
    kept = _live_row(instance, now)
    if kept is not None:
        return kept
    after_view = _after_view.get()
    if after_view is not None:
        after_view.append(delete)
    else:
        transaction.on_commit(delete, using=alias, robust=True)
    raise TokenExpired()


def _live_row(instance: AuthToken, now: datetime) -> AuthToken | None:
    """``instance``'s row read again: returned if a refresh made it live at ``now``, None if it
    is still expired; ``InvalidToken`` when it is gone."""
    row = load_token(instance.digest)
    return None if row.is_expired(now) else row


_after_view: ContextVar[list[Callable[[], object]] | None] = ContextVar("gql_authtoken_after_view", default=None)


@contextmanager
def deletions_after_view() -> Iterator[list[Callable[[], object]]]:
    """Inside, an expired token seen in a transaction is not deleted there but added to the
    yielded list, for ``run_deletions`` once the transaction ended (``_expire``). The token
    middleware wraps the view in it: outside the transaction ``ATOMIC_REQUESTS`` opens."""
    pending: list[Callable[[], object]] = []
    reset = _after_view.set(pending)
    try:
        yield pending
    finally:
        _after_view.reset(reset)


def run_deletions(pending: list[Callable[[], object]]) -> None:
    """Run what ``deletions_after_view`` gathered; a failure is logged, never raised (the
    response is made: the token stays expired, and ``clear_expired_tokens`` deletes it).
    Still inside a transaction (one opened around the middleware): at its commit instead."""
    alias = primary.alias(AuthToken)
    for delete in pending:
        if primary.in_transaction(alias):
            transaction.on_commit(delete, using=alias, robust=True)
            continue
        try:
            delete()
        except Exception:
            logger.exception("Could not delete an expired token after the request")


def _user_active(instance: AuthToken) -> bool:
    return bool(getattr(instance.user, "is_active", True))


def touch(instance: AuthToken, when: datetime, *, then: Callable[[], None] | None = None) -> None:
    """Record use, writing at most once per ``LAST_USED_UPDATE_INTERVAL``; ``then`` runs once recorded.

    Raises ``InvalidToken`` when the row is gone (deleted since it was read
    or cached): recording use never brings a deleted token back. Inside a
    transaction (``ATOMIC_REQUESTS``, a view's own ``atomic``) that check and
    ``then`` (the cached copy, stored before the view can change the request's
    user) run at once, and the write waits for the commit (none after a
    rollback): an ``UPDATE`` now would hold the token's row to the end of the
    request, ahead of the user's row lock that every revocation takes first
    (``models.lock_user``), and two such requests of one user would deadlock.
    """
    interval = auth_settings.LAST_USED_UPDATE_INTERVAL
    if instance.last_used is not None and when - instance.last_used < interval:
        return
    row = AuthToken.objects.on_primary().filter(pk=instance.pk, digest=instance.digest)
    # Never back: a longer request that read the token earlier may record its use after a later one.
    latest = Greatest(Coalesce("last_used", Value(when)), Value(when), output_field=DateTimeField())
    in_transaction = primary.in_transaction(row.db)
    if not (row.exists() if in_transaction else row.update(last_used=latest)):
        token_cache.forget([instance.digest])
        raise InvalidToken()
    if in_transaction:  # by key alone: a rotation later in the request keeps the session, not the digest
        session = AuthToken.objects.on_primary().filter(pk=instance.pk)
        transaction.on_commit(lambda: session.update(last_used=latest), using=row.db, robust=True)
    instance.last_used = when
    if then is not None:
        then()


@contextmanager
def _token_row_locked(instance: AuthToken) -> Iterator[None]:
    """The user's row lock for a write of ``instance``'s row (the user first, as every write on a
    user's token rows). Inside a transaction (``ATOMIC_REQUESTS``) the token's client is held
    before it (``models.hold_client``): PostgreSQL checks a deferred foreign key again at the
    commit when the transaction writes a row twice (``refresh(rotate: true)``), and that check's
    lock on the client would otherwise come after the user's, against a client deletion's order."""
    held = primary.in_transaction(primary.alias(AuthToken))
    with models.user_transaction():
        if held:
            models.hold_client(instance.client)  # gone: so is the token, and the update finds nothing
        models.lock_user(instance.user_id)
        require_live(instance)  # still there, and not dead by a change made without save()
        yield


def refresh_token(instance: AuthToken) -> datetime | None:
    """Extend the token by its client's TTL (capped by ``MAX_TOKEN_LIFETIME``).

    Raises ``TokenExpired`` for a token already past its expiry or its cap,
    ``InvalidToken`` for one revoked meanwhile.
    """
    current = clock.now()
    if instance.is_expired(current):
        raise TokenExpired()
    expiry = compute_expiry(created=instance.created, start=current, client=instance.client)
    if instance.expiry is not None and expiry is not None and expiry < instance.expiry:
        # A refresh never shortens a token, nor takes it past MAX_TOKEN_LIFETIME (a token
        # issued before the cap was set may hold a later expiry: it ends at the cap all the same).
        expiry = instance.effective_expiry()
    with _token_row_locked(instance):
        if not AuthToken.objects.filter(pk=instance.pk).update(expiry=expiry):
            raise InvalidToken()  # revoked while this request ran
    token_cache.forget([instance.digest], wait=False)  # a copy with the earlier expiry refuses sooner, never later
    instance.expiry = expiry
    signals.token_renewed.send(sender=AuthToken, instance=instance, user=instance.user, expiry=expiry)
    return expiry


@sensitive_variables("token")
def rotate_token(instance: AuthToken) -> IssuedToken:
    """Give the session a new token; the old one stops working at once."""
    token = new_token()
    digest = crypto.hash_token(token)
    # Matching the old digest makes two concurrent rotations of one token
    # produce one winner; the loser's token is already dead.
    with _token_row_locked(instance):
        if not AuthToken.objects.filter(pk=instance.pk, digest=instance.digest).update(digest=digest):
            raise InvalidToken()
    token_cache.forget([instance.digest])
    instance.digest = digest
    return IssuedToken(token=token, instance=instance)


def require_live(session: AuthToken) -> None:
    """Raise ``InvalidToken`` unless ``session``'s row is still there; lock it until the transaction ends.

    For a write that rests on the request's token (a new token or API key,
    ``changePassword``, ``changeEmail``), inside that write's transaction and
    after the user's row lock (``models.lock_user``, which ``revoke_all_tokens``
    takes first too). The row lock (``SELECT ... FOR UPDATE`` on the primary)
    orders the write against every revocation of the token: a ``logout`` or
    ``revokeSession`` that committed first is seen, and one that comes later
    waits for the write to commit (API.md §8: revocation takes effect at once).
    A token whose user's password hash was replaced, or who was deactivated,
    without ``save()`` is refused too (``AuthToken.password_digest``): a cached
    copy of it must not mint a key, nor be refreshed.
    """
    live = AuthToken.objects.on_primary().filter(pk=session.pk, digest=session.digest)
    user_fields = [f"user__{name}" for name in models.model_fields(get_user_model(), ("password", "is_active"))]
    # The token's row only: the caller holds the user's (``models.own_row``).
    row = live.select_for_update(of=models.own_row(live.db)).select_related("user").only(
        "password_digest", *user_fields).first()
    if row is None or not getattr(row.user, "is_active", True) or not row.rests_on_stored_password():
        raise InvalidToken()  # revoked; or a cached copy after a change without save() (QuerySet.update)


def revoke_tokens(tokens: Any, *, user: AbstractBaseUser | None = None) -> int:
    """Delete the given tokens; ``token_revoked`` goes out once per user concerned.

    Pass ``user`` when all the tokens are that user's, to spare looking them up.
    """
    by_user: dict[Any, list[int]] = {}
    # Read where they are deleted: a replica could miss a token issued a moment ago.
    for pk, user_id in tokens.using(primary.alias(AuthToken)).values_list("pk", "user_id"):
        by_user.setdefault(user_id, []).append(pk)
    users: Mapping[Any, AbstractBaseUser] = {user.pk: user} if user is not None else (
        primary.users().in_bulk(list(by_user)) if by_user else {})
    total = 0
    # The users' rows are locked before their token rows are deleted: the order of every write
    # resting on a token (``require_live``), so a revocation waits for such a write instead of
    # deadlocking with it.
    with token_cache.batched_marks(), transaction.atomic(using=primary.alias(AuthToken)):
        models.lock_users(by_user)
        for user_id, pks in by_user.items():
            count = AuthToken.objects.filter(pk__in=pks).delete()[0]
            if count:
                session_ids = [str(pk) for pk in pks]
                signals.token_revoked.send(sender=AuthToken, user=users.get(user_id), session_ids=session_ids)
            total += count
    return total


def logout(request: HttpRequest | None, token: AuthToken | None) -> int:
    """Revoke the request's token."""
    if token is None:
        raise NotAuthenticated()
    count = revoke_tokens(AuthToken.objects.filter(pk=token.pk), user=token.user)
    user_logged_out.send(sender=token.user.__class__, request=request, user=token.user)
    return count


def logout_all(request: HttpRequest | None, user: AbstractBaseUser) -> int:
    """Revoke every token of ``user``."""
    count = revoke_all_tokens(user)
    user_logged_out.send(sender=user.__class__, request=request, user=user)
    return count


def revoke_all_tokens(user: AbstractBaseUser) -> int:
    with user_locked(user):
        return revoke_tokens(AuthToken.objects.filter(user_id=user.pk), user=user)


def _batches(tokens: Any, batch_size: int) -> Iterator[list[Any]]:
    """The primary keys of ``tokens``, read from the primary, in batches in key order.

    Each batch starts past the last key of the one before, so the loop ends
    whatever the caller's deletes did: a row that is not deleted (a router
    that reads one database and deletes in another, a concurrent writer) is
    passed over, never read again and again.
    """
    last = None
    while True:
        batch = tokens.on_primary().order_by("pk")
        if last is not None:
            batch = batch.filter(pk__gt=last)
        pks = list(batch.values_list("pk", flat=True)[:batch_size])
        if not pks:
            return
        last = pks[-1]
        yield pks


def clear_expired_tokens(*, batch_size: int = 1000) -> int:
    """Delete expired tokens in batches (bounded memory, short locks); how many."""
    total = 0
    now = clock.now()
    for pks in _batches(AuthToken.objects.expired(now), batch_size):
        # The post_delete receiver marks each row; expired tokens are refused by every hit
        # anyway, so the marks need not wait out recent hits.
        with token_cache.batched_marks(wait=False), transaction.atomic(using=primary.alias(AuthToken)):
            batch = AuthToken.objects.filter(pk__in=pks)
            models.lock_token_users(batch)  # users first, as every revocation (``revoke_tokens``)
            # Still expired under the locks: a refresh that committed since the read keeps its token.
            total += batch.expired(now).delete()[0]
    return total


def fill_password_digests(*, batch_size: int = 1000) -> int:
    """Give the tokens and pending email change links that have no ``password_digest`` (made
    before migration 0006, or by a server of the previous release) the digest of their user's
    stored password hash, so that a hash written later without ``save()`` ends them too; how
    many rows. ``batch_size`` users at a time, each batch in its own transaction under their
    row locks (``models.lock_users``): a password change or re-hash cannot commit between the
    read of a hash and the write of its digest. Nothing for a user model without a password."""
    if not models.model_fields(get_user_model(), ("password",)):
        return 0
    alias = primary.alias(AuthToken)
    links = EmailConfirmationToken.objects.filter(purpose=ConfirmationPurpose.EMAIL_CHANGE, confirmed__isnull=True)
    total = 0
    for rows in (AuthToken.objects.all(), links):
        rows = rows.using(alias).filter(password_digest="")
        last = None
        while True:
            waiting = rows.order_by("user_id") if last is None else rows.filter(user_id__gt=last).order_by("user_id")
            user_ids = list(dict.fromkeys(waiting.values_list("user_id", flat=True)[:batch_size]))
            if not user_ids:
                break
            last = user_ids[-1]
            with transaction.atomic(using=alias):
                stored = models.lock_users(user_ids, "password")
                if stored:
                    digests = [When(user_id=pk, then=Value(models.password_digest(values["password"])))
                               for pk, values in stored.items()]
                    total += rows.filter(user_id__in=list(stored)).update(password_digest=Case(*digests))
    return total


def revoke_every_token(*, batch_size: int = 1000) -> int:
    """Revoke all tokens of all users, in batches; how many."""
    return sum(revoke_tokens(AuthToken.objects.filter(pk__in=pks))
               for pks in _batches(AuthToken.objects.all(), batch_size))


aauthenticate_token = sync_to_async(authenticate_token)
arefresh_token = sync_to_async(refresh_token)
arotate_token = sync_to_async(rotate_token)
alogout = sync_to_async(logout)
alogout_all = sync_to_async(logout_all)
