"""Cached token lookup (django-cache-memoize) and its invalidation.

A lookup is memoised under the token's digest together with ``loaded_at``,
the time just *before* its database read. Anything that ends or changes a
token writes a **revocation mark** (the time it happened) when its
transaction commits: one per token digest (every deletion of an
``AuthToken`` row, by the package, the admin, a cascade or
``QuerySet.delete()``; refresh; rotation), one per user (any change to the
user, ``invalidate_user_tokens``) and one per client (any change to it). A
cached entry is served only while none of its three marks is newer than its
``loaded_at`` (less ``CLOCK_SKEW`` seconds, for hosts whose clocks differ a
little), so:

- the next request after a revocation is refused in every process sharing
  the cache, also when the rows went away without the package (raw SQL
  followed by ``invalidate_user_tokens``), since the user's mark needs no row;
- a request that missed the cache and read the row just before a revocation
  committed stores an entry whose ``loaded_at`` precedes the mark, so it is
  never served.

A cached entry is also served only in the **epoch** it was loaded in
(``cache_access.EPOCH``): an entry from before a time the cache may have lost
marks (Redis restarted, frozen or refusing writes) is loaded again.

A hit costs one cache round trip: the entry, its epoch and its marks are read
together (``get_many``, from the primary); each process also renews the epoch
at most once per ``cache_access.RENEW_INTERVAL``. Within
``TOKEN_LOCAL_CACHE_TIMEOUT`` seconds of that read, the same process serves the
token again with no round trip at all (``recall``): every revocation waits that
long after writing its marks before it returns (``_wait_out_recent_hits``), so a
hit served after a revocation returned rests on a read made after its marks were
written, in whatever process it is served (docs/performance.md gives the proof).
The user's and client's mark keys need their ids, which are in the entry; this
process remembers them per entry key from the first time it saw the token, so
only that first hit reads twice.
django-cache-memoize builds the entry key; the entry is read and stored here,
on the primary.

Marks outlive entries (the longer of ``TOKEN_CACHE_TIMEOUT`` and ``MARK_MIN_TIMEOUT``, plus
``MARK_MARGIN`` seconds).
Entries hold the ``AuthToken`` with its user (password hash removed, so it
is loaded from the database only if code asks for it) and client; never a
plaintext token. Failed lookups raise and are never stored.

The cache is used only on a backend that every process shares: on Django's
default local-memory cache (or the dummy cache) a logout in one worker could
not reach the others, so lookups go to the database (``checks.py`` warns).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cache_memoize import cache_memoize
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.db import connections, transaction

from . import cache_access, primary
from .conf import auth_settings
from .models import AuthToken

logger = logging.getLogger("gql_authtoken")

MARK_MARGIN = 300
# Marks live at least this long plus the margins, whatever TOKEN_CACHE_TIMEOUT the writing process
# has: a process with a shorter timeout (a worker on older settings, another project on the same
# cache) rewriting a mark must not cut it short of an entry that a process with a longer one
# (up to this, check W013 beyond) still serves.
MARK_MIN_TIMEOUT = 3600
# Seconds by which the clocks of two hosts sharing the cache may differ.
CLOCK_SKEW = 5
_PREFIX = "gql_authtoken"

# Backends whose contents one process cannot share with another.
PROCESS_LOCAL_BACKENDS = (LocMemCache, DummyCache)


def clock() -> float:
    """Seconds since the epoch (seam for tests)."""
    return time.time()


def is_shared(alias: str) -> bool:
    """Whether the cache ``alias`` is one every process sees (not local memory, not dummy)."""
    return not isinstance(caches[alias], PROCESS_LOCAL_BACKENDS)


def enabled() -> bool:
    """Whether token lookups go through the cache: a timeout above 0, on a shared backend that
    reports its errors (django-redis's ``IGNORE_EXCEPTIONS`` makes a lost revocation mark look
    written, so such a cache is never trusted with tokens; check E022 says so at start-up)."""
    if not auth_settings.TOKEN_CACHE_TIMEOUT:
        return False
    cache = caches[auth_settings.TOKEN_CACHE_ALIAS]
    return not isinstance(cache, PROCESS_LOCAL_BACKENDS) and not getattr(cache, "_ignore_exceptions", False)


def _cache() -> Any:
    return cache_access.primary()  # reads from the primary, never a replica


def token_mark(digest: str) -> str:
    return f"{_PREFIX}:mark:t:{digest}"


def user_mark(user_id: Any) -> str:
    return f"{_PREFIX}:mark:u:{user_id}"


def client_mark(client_id: Any) -> str:
    return f"{_PREFIX}:mark:c:{client_id}"


class CachedToken:
    """A cache entry: the token row and when its database read began."""

    def __init__(self, instance: AuthToken, loaded_at: float, epoch: str | None = None):
        self.instance = instance
        self.loaded_at = loaded_at
        self.epoch = epoch  # cache_access.EPOCH when it was loaded

    def __getstate__(self) -> tuple[AuthToken, float, str | None]:
        return self.instance, self.loaded_at, self.epoch

    def __setstate__(self, state: tuple[AuthToken, float, str | None]) -> None:
        self.instance, self.loaded_at, self.epoch = state


@functools.lru_cache(maxsize=16)
def _memoized(timeout: int, alias: str, load: Callable[..., AuthToken], project: str) -> Any:
    """The memoised loader for these settings (built once per combination)."""

    def load_for_cache(digest: str, legacy_digest: str | None) -> CachedToken:
        entry = CachedToken(None, clock())  # type: ignore[arg-type]  # the time is taken before the read
        entry.instance = load(digest, legacy_digest)
        # The password hash never goes into the cache, nor the token's digest of it (checked by
        # ``load`` already); Django loads a deferred field from the database if anything reads it.
        entry.instance.user.__dict__.pop("password", None)
        entry.instance.__dict__.pop("password_digest", None)
        return entry

    # The prefix names the entry's format (a process running other code never reads it) and the project.
    return cache_memoize(timeout, prefix=f"{_PREFIX}.token.v3.{project}", cache_alias=alias)(load_for_cache)


def _loader(load: Callable[..., AuthToken]) -> Any:
    return _memoized(auth_settings.TOKEN_CACHE_TIMEOUT, auth_settings.TOKEN_CACHE_ALIAS, load,
                     cache_access.project_namespace())


def _read_many(cache: Any, keys: list[str]) -> dict[str, Any]:
    """Every cache read that decides whether a cached token is served goes through here."""
    return cache.get_many(keys)


# What this process learnt about the tokens it has seen, by (loader, digests): the
# entry key and the marks of the token, its user and its client. A hit then reads the
# entry, the epoch and all marks in one round trip. A token's user and client never
# change (a change of either writes a mark), and lookup checks the entry's own ids
# against them, a mismatch costing only a second read, so nothing here is trusted
# for a decision. Bounded: past HINTS_MAX entries (a few MiB) the oldest goes first.
_hints: dict[tuple[Any, str, str | None], tuple[str, list[str], tuple[Any, Any]]] = {}
HINTS_MAX = 20_000


def _put(table: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """``table[key] = value``, first dropping the oldest entry when ``table`` holds ``limit``."""
    if key not in table and len(table) >= limit:
        try:
            del table[next(iter(table))]
        except (RuntimeError, KeyError, StopIteration):  # another thread changed it meanwhile
            pass
    table[key] = value


def _remember(hint: tuple[Any, str, str | None], key: str, instance: AuthToken) -> list[str]:
    """The marks of ``instance`` (its token, user and client), remembered for the next hit."""
    owner = (instance.user_id, instance.client_id)
    marks = [token_mark(instance.digest), user_mark(owner[0])]
    if owner[1] is not None:
        marks.append(client_mark(owner[1]))
    _put(_hints, hint, (key, marks, owner), HINTS_MAX)
    return marks


def _is_served(entry: CachedToken, epoch: str | None, found: dict[str, Any], marks: list[str]) -> bool:
    """Whether a cached entry may answer: loaded in the current ``epoch``, read less than
    ``TOKEN_CACHE_TIMEOUT`` ago (whatever the backend kept), and none of its ``marks`` (as
    ``found`` in the cache) newer than that read."""
    if epoch is None or entry.epoch != epoch or clock() - entry.loaded_at >= auth_settings.TOKEN_CACHE_TIMEOUT:
        return False
    oldest = entry.loaded_at - CLOCK_SKEW
    return not any(found[mark] >= oldest for mark in marks if mark in found)


# Hits this process may serve again without a round trip, by (digest, legacy digest): until when
# (monotonic: the read that found the entry live began less than TOKEN_LOCAL_CACHE_TIMEOUT before;
# wall clock: TOKEN_CACHE_TIMEOUT after the entry was loaded), and the entry (a copy of its own;
# each request gets another, ``_copy``). Emptied when the settings change; bounded like ``_hints``.
_recent: dict[tuple[str, str | None], tuple[float, float, CachedToken]] = {}
RECENT_MAX = 10_000


def local_timeout() -> float:
    """``TOKEN_LOCAL_CACHE_TIMEOUT`` in seconds (0 when off)."""
    return float(auth_settings.TOKEN_LOCAL_CACHE_TIMEOUT or 0)


def _copy_instance(instance: Any) -> Any:
    """A copy of a model instance and of the related instances it caches (the token's user and
    client): its own field values and ``_state``, so what one request changes on its
    ``request.user`` no other request sees. As ``copy.copy`` of a model, without its detour
    through ``__reduce__`` and the app registry."""
    copied = instance.__class__.__new__(instance.__class__)
    copied.__dict__.update(instance.__dict__)
    state = _copy_state(instance._state)
    state.fields_cache = {name: None if related is None else _copy_instance(related)
                          for name, related in instance._state.fields_cache.items()}
    copied._state = state
    return copied


def _copy_state(state: Any) -> Any:
    """``copy.copy(state)`` for a ``ModelState``, the same steps (``__getstate__``, then
    ``__setstate__`` or the instance dict) without ``__reduce_ex__``: half the time on a hit."""
    copied = state.__class__.__new__(state.__class__)
    values = state.__getstate__() or {}
    setstate = getattr(copied, "__setstate__", None)
    if setstate is not None:
        setstate(values)
    else:
        copied.__dict__.update(values)
    return copied


def _copy(entry: CachedToken) -> CachedToken:
    return CachedToken(_copy_instance(entry.instance), entry.loaded_at, entry.epoch)


def recall(digest: str, legacy_digest: str | None) -> CachedToken | None:
    """A hit with no round trip: the entry that a read begun less than ``TOKEN_LOCAL_CACHE_TIMEOUT``
    seconds ago found live, as a fresh copy; None when there is none, or while the cache is down."""
    seen = _recent.get((digest, legacy_digest))
    if seen is None:
        return None
    until, until_wall, entry = seen
    if cache_access.monotonic() >= until or clock() >= until_wall or cache_access.is_down():
        _recent.pop((digest, legacy_digest), None)
        return None
    return _copy(entry)


# The longest TOKEN_LOCAL_CACHE_TIMEOUT of any process using the cache (seconds), which every
# revocation waits out. Raised by a process before it keeps its first hit; never lowered by the
# package (delete the key to lower it) and without expiry: a revoking process whose own setting
# is shorter (a command, a worker on older settings) still waits as long as any process keeps hits.
WINDOW = f"{_PREFIX}:window"


def _window_published(found: dict[str, Any]) -> bool:
    """Whether the cache's ``WINDOW`` covered this process's own when ``found`` was read; if not,
    it is raised now, and the caller keeps no hit on that read (a revocation may have read the
    lower value meanwhile and waited too little for it): the next read, after this write, may."""
    own = local_timeout()
    published = found.get(WINDOW)
    if isinstance(published, (int, float)) and published >= own:
        return True
    _cache().set(WINDOW, own, None)
    return False


def _keep(hint: tuple[Any, str, str | None], read_at: float, entry: CachedToken, found: dict[str, Any]) -> None:
    """Serve ``entry`` again from this process until ``read_at + TOKEN_LOCAL_CACHE_TIMEOUT``
    (a copy: the caller goes on to use ``entry`` itself)."""
    seconds = local_timeout()
    if seconds > 0 and _window_published(found) and enabled():
        until_wall = entry.loaded_at + auth_settings.TOKEN_CACHE_TIMEOUT
        _put(_recent, hint[1:], (read_at + seconds, until_wall, _copy(entry)), RECENT_MAX)


def forget_recent_hits() -> None:
    """Serve nothing from this process's memory until the cache is read again (settings changed; tests)."""
    _recent.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("GQL_AUTHTOKEN", "CACHES", "SECRET_KEY"):
        forget_recent_hits()


setting_changed.connect(_on_setting_changed)


def _wait_out_recent_hits() -> None:
    """Return once every hit that any process may serve from a read made before now has run out.

    Called after a revocation's marks are written (at its commit): a hit served
    after this returns rests on a read begun less than the longest
    ``TOKEN_LOCAL_CACHE_TIMEOUT`` of any process (``WINDOW``, or this process's
    own if longer) seconds earlier, so after the marks were written, and that
    read saw them. At most 1 second (check E028), whatever the cache holds.
    """
    published = cache_access.attempt(lambda: _cache().get(WINDOW), None)
    if not isinstance(published, (int, float)):
        published = 0.0
    own = local_timeout() if enabled() else 0.0  # a process without the token cache keeps no hits
    seconds = min(max(own, float(published)), 1.0)
    if seconds > 0:
        time.sleep(seconds)


@cache_access.database_fallback
def lookup(digest: str, legacy_digest: str | None, load: Callable[..., AuthToken]) -> CachedToken | None:
    """The token for ``digest`` from the cache, or from ``load`` (stored on success).

    A hit is one round trip: the entry, the epoch and the marks of its token,
    user and client in one ``get_many`` (the user and client are known from an
    earlier hit in this process; otherwise their marks take a second read),
    plus the epoch's renewal at most once per ``cache_access.RENEW_INTERVAL``.
    A miss, or an entry of another epoch or that some mark is newer than, is
    loaded again and stored.
    ``load`` raises for an unknown digest; nothing is stored then. None when
    the cache is down: the caller loads the token from the database itself.
    """
    loader = _loader(load)
    hint = (loader, digest, legacy_digest)
    recent = recall(digest, legacy_digest)
    if recent is not None:
        return recent
    read_at = cache_access.monotonic()  # before the read: a later hit from _recent rests on it
    known = _hints.get(hint)
    key, marks, owner = known if known is not None else (loader.get_cache_key(digest, legacy_digest),
                                                         [token_mark(digest)], None)
    cache = _cache()
    found = _read_many(cache, [key, cache_access.EPOCH, WINDOW, *marks])
    epoch = cache_access.current_epoch(found)
    entry = found.get(key)
    if isinstance(entry, CachedToken) and entry.epoch == epoch:
        if (entry.instance.user_id, entry.instance.client_id) != owner:
            # Not seen in this process yet: the marks of its real user and client take a second read.
            marks = _remember(hint, key, entry.instance)
            found.update(_read_many(cache, marks[1:]))
        if _is_served(entry, epoch, found, marks):
            _keep(hint, read_at, entry, found)
            return entry
    entry = loader.__wrapped__(digest, legacy_digest)  # django-cache-memoize's own function, unmemoised
    if entry.instance.digest != digest:
        # An imported legacy row: revocations mark its stored digest, which
        # is not this key, so it is never cached (one query each time).
        return entry
    if epoch is not None:
        entry.epoch = epoch
        cache.set(key, entry, auth_settings.TOKEN_CACHE_TIMEOUT)
        _keep(hint, read_at, entry, found)
    _remember(hint, key, entry.instance)
    return entry


def update(digest: str, legacy_digest: str | None, entry: CachedToken, load: Callable[..., AuthToken]) -> None:
    """Store a changed copy (a new ``last_used``) under the same key, for what is left of its timeout.

    The entry keeps its ``loaded_at`` and never outlives ``TOKEN_CACHE_TIMEOUT``
    from it, so a change the marks do not see (a bulk update without
    ``invalidate_user_tokens``) still shows within that timeout.
    """
    _recent.pop((digest, legacy_digest), None)  # the next hit reads the new copy
    remaining = int(auth_settings.TOKEN_CACHE_TIMEOUT - (clock() - entry.loaded_at))
    if remaining > 0:
        cache_access.attempt(lambda: _cache().set(_loader(load).get_cache_key(digest, legacy_digest), entry,
                                                  remaining), None)


def _write_marks(keys: list[str], *, wait: bool) -> None:
    """Write marks now; with ``wait``, return only once no process can serve a hit read before them."""
    timeout = max(int(auth_settings.TOKEN_CACHE_TIMEOUT), MARK_MIN_TIMEOUT) + CLOCK_SKEW + MARK_MARGIN
    forget_recent_hits()  # this process's own next lookups read the marks at once
    cache_access.write_marks(dict.fromkeys(keys, clock()), timeout)  # kept and retried if the cache is down
    if wait:
        # Kept after a failure a moment ago: the retry thread writes them within RETRY_INTERVAL.
        cache_access.await_pending(1.5 * cache_access.RETRY_INTERVAL)
        _wait_out_recent_hits()


class _CommitMarks:
    """The marks one transaction made, written together when it commits (one wait for all)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.wait = False
        self.callback = self.write  # the one object given to on_commit, found again by identity

    def write(self) -> None:
        _write_marks(list(self.keys), wait=self.wait)


_COMMIT_MARKS = "_gql_authtoken_commit_marks"


def _at_commit(alias: str, keys: list[str], wait: bool) -> None:
    """Add ``keys`` to the marks written when the transaction open on ``alias`` commits.

    One ``on_commit`` callback per transaction: a ``QuerySet.delete()`` of many
    tokens (a mark per row) then writes once and waits once. A callback that
    Django dropped (its savepoint or transaction rolled back) or already ran is
    no longer in ``run_on_commit``, and a new one is registered.
    """
    connection = connections[alias]
    pending = connection.__dict__.get(_COMMIT_MARKS)
    if pending is None or not any(entry[1] is pending.callback for entry in connection.run_on_commit):
        pending = connection.__dict__[_COMMIT_MARKS] = _CommitMarks()
        transaction.on_commit(pending.callback, using=alias, robust=True)
    pending.keys.update(keys)
    pending.wait = pending.wait or wait


_batch: ContextVar[dict[str, bool] | None] = ContextVar("gql_authtoken_marks", default=None)


@contextmanager
def batched_marks(*, wait: bool | None = None) -> Iterator[None]:
    """Write the marks made inside the block together, in one round trip.

    ``wait=False``: none of them is a revocation that needs ``_wait_out_recent_hits``
    (expired tokens, which no hit serves); None: as the marks themselves say.
    """
    keys: dict[str, bool] = {}
    reset = _batch.set(keys)
    try:
        yield
    finally:
        _batch.reset(reset)
        _mark(keys, wait=any(keys.values()) if wait is None else wait)


def _mark(keys: Iterable[str], *, wait: bool = True) -> None:
    """Write these marks now and again when the current transaction commits.

    The commit-time write is the one that counts (a request that read the
    row before the commit may have stored its entry since); the first one
    makes the change visible at once where no transaction is open. With
    ``wait`` (a revocation), the commit-time write returns only after
    ``TOKEN_LOCAL_CACHE_TIMEOUT``: no process serves the token from its own
    memory after that.
    """
    keys = list(keys)
    if not keys:
        return
    if not enabled():
        forget_recent_hits()  # hits kept before the cache was turned off in this process
    if not is_shared(auth_settings.TOKEN_CACHE_ALIAS):
        return  # no other process reads this cache: nothing to tell
    # Written even while this process keeps no entries (TOKEN_CACHE_TIMEOUT 0): a worker or command
    # set up so still revokes for the servers that do (brk80).
    batch = _batch.get()
    if batch is not None:
        for key in keys:
            batch[key] = batch.get(key, False) or wait
        return
    alias = primary.alias(AuthToken)
    if primary.in_transaction(alias):
        _write_marks(keys, wait=False)
        _at_commit(alias, keys, wait)
        return
    connection = connections[alias]
    if connection.connection is not None and not connection.get_autocommit():
        logger.warning("Tokens were revoked under manual transaction management (set_autocommit(False)), "
                       "where Django runs no commit hooks: call gql_authtoken.cache.invalidate_user_tokens(user) "
                       "after commit(), or a request that reads the rows before the commit may cache them "
                       "(docs/security.md, Limits of the wait).")
    _write_marks(keys, wait=wait)


def forget(digests: Iterable[str], *, wait: bool = True) -> None:
    """Make cached lookups of these token digests miss from the commit on.

    ``wait=False`` for a change a stale copy cannot abuse (a refresh: the copy's
    expiry is the earlier one), which then skips ``_wait_out_recent_hits``.
    """
    _mark((token_mark(digest) for digest in digests), wait=wait)


def forget_client(client_id: Any) -> None:
    """Make cached lookups of every token of this client miss from the commit on."""
    _mark([client_mark(client_id)])


def invalidate_user_tokens(user: Any) -> None:
    """Drop every cached lookup of the user's tokens (``user``: a user or its pk).

    Call it after changing users or deleting their tokens with
    ``QuerySet.update()`` or raw SQL, which send no signals; ``save()`` and
    ``delete()`` do it by themselves. It needs no token rows, so it also
    works after they are gone. Without it such a change shows after
    ``TOKEN_CACHE_TIMEOUT`` seconds. A pk is read as the user model's pk field
    reads it (``to_python``: ``"7"`` is 7, a UUID in any spelling is the same
    UUID), so the mark is the one cached lookups check; a pk that field cannot
    read raises ``django.core.exceptions.ValidationError``.
    """
    _mark([_user_mark_of(user)])


def drop_user_copies(user: Any) -> None:
    """Make cached lookups load ``user`` again (a change that revokes nothing: a new name, email...).

    Unlike ``invalidate_user_tokens`` it does not wait out ``TOKEN_LOCAL_CACHE_TIMEOUT``:
    another process may serve its copy of the user that much longer (API.md §8
    allows a cached user up to ``TOKEN_CACHE_TIMEOUT`` old); this process reloads at once.
    """
    _mark([_user_mark_of(user)], wait=False)


def _user_mark_of(user: Any) -> str:
    pk = getattr(user, "pk", user)
    return user_mark(get_user_model()._meta.pk.to_python(pk))
