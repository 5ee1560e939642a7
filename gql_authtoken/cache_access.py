"""How the token cache is reached: always on its primary, and done without while it is down.

Everything that decides whether a token is live (the cached entry, the
revocation marks, the epoch) or counts a throttle attempt goes through
``primary()`` and ``attempt()`` (docs/deployment.md says why, for operators).

**Primary.** A Redis cache with replicas reads from a replica: Django's
``RedisCache`` given several ``LOCATION`` s writes to the first and reads from
another at random, django-redis does the same and, with its ``SentinelClient``,
reads from a replica Sentinel names. A mark written to the primary is not on a
replica that lags, and a token revoked a moment ago would be served from its
entry there. ``primary()`` gives a copy of such a cache whose reads go where its
writes go (the first server). Django's ``RedisCache`` and django-redis are
thread-safe, so there is one such object per alias and process (under ASGI
Django builds a cache object per request, and with it a new connection); other
backends are returned as they are.

**Epoch.** An entry is served only while the **epoch** it was loaded in is
still the current one (``EPOCH``, a random id with a ``EPOCH_TTL``-second
lifetime, read in the same ``get_many`` as the entry and its marks). Every
process that reads the cache renews it (``touch``) at most once per
``RENEW_INTERVAL`` seconds; when it is missing, the next lookup starts a new
one (``add``), and every entry of an older epoch is loaded again from the
database. So a mark Redis lost without any process seeing an error (Redis
restarted from a dump, frozen, or refusing writes, for longer than
``EPOCH_TTL``) cannot let an older entry be served: the epoch went with it.

**Outage.** When a cache operation fails (Redis stopped, unreachable, timed
out, refusing writes), the process logs it once, counts the cache as down and
leaves it alone: tokens are checked in the database (``cache.lookup`` returns
None), and throttling fails closed or open as ``THROTTLE_ON_CACHE_FAILURE``
says. Marks that could not be written are kept (``write_marks``) and the
process tries to end the epoch (``delete``, which Redis allows even when it is
out of memory). Every ``RETRY_INTERVAL`` seconds (a request or, in an idle
process, a daemon thread) it tries again: it writes the kept marks and starts a
new epoch, so every entry loaded before is refused; only then is the cache used
again. At exit the process tries once more for ``EXIT_FLUSH_TIMEOUT`` seconds
(``flush_pending``).
"""

from __future__ import annotations

import atexit
import copy
import functools
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.utils.crypto import salted_hmac

from .conf import auth_settings
from .exceptions import AuthTokenError

logger = logging.getLogger("gql_authtoken")

T = TypeVar("T")

# The current epoch's id; an entry loaded in another epoch is never served (module docstring).
EPOCH = "gql_authtoken:mark:epoch"
# Seconds the epoch lives without a renewal (whole seconds: Redis TTLs through Django's API).
EPOCH_TTL = 3
# Seconds between two renewals of the epoch by one process (one extra round trip each).
RENEW_INTERVAL = 1.0
# Seconds a process leaves the cache alone after a failure before it tries again:
# one failed round trip (maybe a connect timeout) per second, not several per request.
RETRY_INTERVAL = 1.0
# Seconds an exiting process keeps trying to write the marks it could not write.
EXIT_FLUSH_TIMEOUT = 5.0
# What the token lookup itself raises (an unknown token, a database error): never a cache failure.
LOAD_ERRORS: tuple[type[Exception], ...] = (AuthTokenError, DatabaseError)
THROTTLE_FAILURE_MODES = ("closed", "open")


class CacheUnanswered(Exception):
    """The cache answered None where a value is certain: a backend that ignores its errors
    (django-redis ``IGNORE_EXCEPTIONS``) failed."""


def monotonic() -> float:
    """Seconds on a clock that only goes forward (seam for tests)."""
    return time.monotonic()


# --- reading from the primary -----------------------------------------------------


@functools.cache
def _primary_client_class(client_class: Any) -> type:
    """Django's ``RedisCacheClient`` (or a subclass) whose ``get_client`` always gives the first
    server's, and the same one each time: Django builds a new ``redis.Redis`` per command (its
    ``__init__`` costs about as much as the round trip), while one client over its connection
    pool serves every thread (redis-py clients are thread-safe; the pool resets after a fork)."""

    def get_client(self: Any, key: Any = None, *, write: bool = False) -> Any:
        client = self.__dict__.get("_primary_client")
        if client is None:  # two threads may both build one here: either will do
            client = self.__dict__["_primary_client"] = client_class.get_client(self, key, write=True)
        return client

    return type(f"Primary{client_class.__name__}", (client_class,), {"get_client": get_client})


@functools.cache
def _primary_django_redis_client_class(client_class: type) -> type:
    """A django-redis ``DefaultClient`` (or subclass) that picks server 0 (its primary) for reads too."""

    def get_next_client_index(self: Any, write: bool = True, tried: Any = None) -> int:
        return 0

    return type(f"Primary{client_class.__name__}", (client_class,), {"get_next_client_index": get_next_client_index})


def _django_redis_client(cache: Any) -> type | None:
    """The client class of a django-redis cache that has replicas, else None."""
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
        from django_redis.client import DefaultClient, SentinelClient
    except ImportError:
        return None
    if not isinstance(cache, DjangoRedisCache) or not issubclass(cache._client_cls, DefaultClient):
        return None  # ShardClient's servers are shards, not replicas
    servers = cache._server.split(",") if isinstance(cache._server, str) else cache._server
    if issubclass(cache._client_cls, SentinelClient) or len(servers) > 1:
        return cache._client_cls
    return None


def _primary_view(cache: Any) -> Any:
    """A copy of ``cache`` whose reads go to its primary (Django's ``RedisCache``: always, for
    its one kept client), or ``cache`` when they already do.

    Django's ``RedisCache`` and django-redis keep their servers and client class in
    attributes of their own (``_servers``, ``_class``; ``_server``, ``_client_cls``).
    """
    if isinstance(cache, RedisCache):
        view: Any = copy.copy(cache)
        view.__dict__.pop("_cache", None)  # its own client, built on first use
        view._class = _primary_client_class(view._class)
        return view
    client_class = _django_redis_client(cache)
    if client_class is not None:
        view = copy.copy(cache)
        view._client = None
        view._client_cls = _primary_django_redis_client_class(client_class)
        return view
    return cache


def _thread_safe(cache: Any) -> bool:
    """Whether one object of this backend may serve every thread and task (Django's ``RedisCache``, django-redis)."""
    if isinstance(cache, RedisCache):
        return True
    try:
        from django_redis.cache import RedisCache as DjangoRedisCache
    except ImportError:
        return False
    return isinstance(cache, DjangoRedisCache)


# One view per alias for thread-safe backends (so one connection pool per process, also
# under ASGI, where Django builds a cache object per request), else one per cache object
# (Django keeps those per thread and alias).
_shared: dict[str, BaseCache] = {}
_views: weakref.WeakKeyDictionary[BaseCache, BaseCache] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def primary(alias: str | None = None) -> BaseCache:
    """The cache ``alias`` (default ``TOKEN_CACHE_ALIAS``), reading from its primary."""
    alias = alias or auth_settings.TOKEN_CACHE_ALIAS
    view = _shared.get(alias)
    if view is not None:
        return view
    cache = caches[alias]
    with _views_lock:
        if _thread_safe(cache):
            view = _shared.setdefault(alias, _primary_view(caches.create_connection(alias)))
        else:
            view = _views.get(cache)
            if view is None:
                view = _views[cache] = _primary_view(cache)
    return view


def _forget_views(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        with _views_lock:
            _shared.clear()


setting_changed.connect(_forget_views)


# --- epochs and outages -----------------------------------------------------------


class _State:
    """This process's view of the cache: down since when, last tried and renewed when, marks not yet written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None  # monotonic()
        self.last_try = 0.0
        self.renewed = float("-inf")
        self.pending: dict[str, float] = {}  # mark key -> its time
        self.pending_timeout = 0
        self.retrier: threading.Thread | None = None


_state = _State()


def is_down() -> bool:
    """Whether this process counts the token cache as down (a failure not yet followed by a new epoch)."""
    return _state.down_since is not None


def pending() -> dict[str, float]:
    """The marks this process could not write yet (key -> time)."""
    with _state.lock:
        return dict(_state.pending)


def reset() -> None:
    """Forget any outage and any unwritten mark (for tests: a new test, or another process, starts clean)."""
    with _state.lock:
        _state.down_since = None
        _state.last_try = 0.0
        _state.renewed = float("-inf")
        _state.pending.clear()


def current_epoch(found: Mapping[str, Any]) -> str | None:
    """The epoch an entry loaded now belongs to: ``found[EPOCH]`` (as read with the entry), renewed
    at most once per ``RENEW_INTERVAL``; when it is missing, a new one this call starts (``add``),
    or the one another process started a moment ago. None if the cache keeps none (never served).
    Cache errors propagate (call it inside ``attempt``)."""
    cache = primary()
    epoch = found.get(EPOCH)
    if epoch is not None:
        if monotonic() - _state.renewed >= RENEW_INTERVAL:
            _state.renewed = monotonic()
            cache.touch(EPOCH, EPOCH_TTL)  # never revives an expired epoch: the next read starts a new one
        return epoch
    started = secrets.token_hex(8)
    if cache.add(EPOCH, started, timeout=EPOCH_TTL):
        _state.renewed = monotonic()
        return started
    return cache.get(EPOCH)


def _failed(error: Exception) -> None:
    with _state.lock:
        _state.last_try = monotonic()
        if _state.down_since is not None:
            return  # said once per outage
        _state.down_since = _state.last_try
    logger.warning(
        "The token cache (CACHES[%r]) failed (%s: %s); tokens are checked in the database until it answers "
        "again, and throttled operations are %s meanwhile (THROTTLE_ON_CACHE_FAILURE).",
        auth_settings.TOKEN_CACHE_ALIAS, type(error).__name__, error,
        "refused" if auth_settings.THROTTLE_ON_CACHE_FAILURE == "closed" else "let through uncounted")
    _start_retrier()


def _recover() -> bool:
    """Start a new epoch, then write the kept marks; True once both are done and the cache is used again.

    When it fails with marks kept, the epoch is ended (``delete``) if the cache lets us, so
    that no process serves an entry those marks would refuse.
    """
    cache = primary()
    try:
        cache.set(EPOCH, secrets.token_hex(8), timeout=EPOCH_TTL)
        while True:  # marks kept meanwhile (a request going on) are written too
            with _state.lock:
                marks, timeout = dict(_state.pending), _state.pending_timeout
                if not marks:
                    since, _state.down_since = _state.down_since, None
                    _state.renewed = monotonic()
                    break
            if cache.set_many(marks, timeout=timeout):
                raise CacheUnanswered("set_many did not store every mark")
            _written(marks)
    except Exception:
        if pending():
            try:
                cache.delete(EPOCH)
            except Exception:
                pass  # it then expires within EPOCH_TTL unless a process that can reach the cache renews it
        return False
    if since is not None:
        logger.warning("The token cache (CACHES[%r]) answers again after %.1f seconds; entries cached before "
                       "now are loaded again from the database.", auth_settings.TOKEN_CACHE_ALIAS, monotonic() - since)
    return True


def _reachable(*, wait: bool = True) -> bool:
    """Whether the cache may be used now; after a failure, only once ``_recover`` has succeeded
    (tried at most once per ``RETRY_INTERVAL``; ``wait=False`` tries at once)."""
    with _state.lock:
        if _state.down_since is None:
            return True
        if wait and monotonic() - _state.last_try < RETRY_INTERVAL:
            return False
        _state.last_try = monotonic()
    return _recover()


def _retry_until_recovered() -> None:
    while is_down() and not _reachable(wait=False):  # at once first: ends the epoch if marks are kept
        time.sleep(RETRY_INTERVAL)


def _start_retrier() -> None:
    """A daemon thread that retries while the cache is down, so an idle process writes its marks too."""
    with _state.lock:
        if _state.retrier is not None and _state.retrier.is_alive():
            return
        _state.retrier = threading.Thread(target=_retry_until_recovered, name="gql_authtoken cache retry",
                                          daemon=True)
        _state.retrier.start()


def write_marks(marks: Mapping[str, float], timeout: int) -> None:
    """Write revocation marks (key -> time) for ``timeout`` seconds; never drops them silently.

    Marks that cannot be written now (the cache is down or fails) are kept,
    with the latest time per key, and written when the cache answers again
    (``_recover``; ``flush_pending`` at exit; ``await_pending`` for a
    revocation that should not return before they are).
    """
    with _state.lock:
        for key, value in marks.items():
            _state.pending[key] = max(value, _state.pending.get(key, value))
        _state.pending_timeout = timeout = max(timeout, _state.pending_timeout)
        written = dict(_state.pending)
    if not _reachable():
        _start_retrier()
        return
    try:
        if primary().set_many(written, timeout=timeout):
            raise CacheUnanswered("set_many did not store every mark")
    except Exception as error:
        _failed(error)  # the retry thread tries again at once, and ends the epoch if it can
        return
    _written(written)


def _written(marks: Mapping[str, float]) -> None:
    """Forget the kept marks just written (unless kept again since, with a later time)."""
    with _state.lock:
        for key, value in marks.items():
            if _state.pending.get(key) == value:
                del _state.pending[key]


def await_pending(timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the retry thread to write this process's kept marks;
    True when none is left. For a revocation made a moment after a failure (a blip): other
    processes, which saw no error, still read the cache, so it should not return before
    its marks are there."""
    deadline = monotonic() + timeout
    while pending():
        if monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def flush_pending(timeout: float) -> bool:
    """Try for up to ``timeout`` seconds to write the marks this process could not write.

    True when none is left (also when there were none); for a process about to
    exit (a management command, ``atexit``).
    """
    deadline = monotonic() + timeout
    while pending():
        if not is_down():
            write_marks({}, 0)  # a failure counts the cache as down
        elif not _reachable(wait=False):
            if monotonic() + RETRY_INTERVAL > deadline:
                return False
            time.sleep(RETRY_INTERVAL)
    return True


def _flush_at_exit() -> None:
    left = pending()
    if left and not flush_pending(EXIT_FLUSH_TIMEOUT):
        logger.error("The token cache (CACHES[%r]) did not answer before this process ended: %d revocation "
                     "mark(s) were not written; cached entries of those tokens may be served until the token "
                     "cache's epoch ends (docs/deployment.md).", auth_settings.TOKEN_CACHE_ALIAS, len(left))


atexit.register(_flush_at_exit)


def attempt(operation: Callable[[], T], fallback: T, *, passthrough: tuple[type[Exception], ...] = ()) -> T:
    """``operation()`` on the token cache, or ``fallback`` when the cache is down.

    Exceptions of the types in ``passthrough`` are the operation's own and
    propagate; any other is a cache failure: logged once, and the cache is
    left alone for ``RETRY_INTERVAL`` seconds at a time until it answers again.
    """
    if not _reachable():
        return fallback
    try:
        return operation()
    except passthrough:
        raise
    except Exception as error:
        _failed(error)
        return fallback


def database_fallback(lookup: Callable[..., T]) -> Callable[..., T | None]:
    """Decorates ``cache.lookup``: None (the caller loads from the database) when the cache fails.

    What the loader raises (``LOAD_ERRORS``) propagates.
    """

    @functools.wraps(lookup)
    def guarded(*args: Any, **kwargs: Any) -> T | None:
        return attempt(lambda: lookup(*args, **kwargs), None, passthrough=LOAD_ERRORS)

    return guarded


def throttle_fails_closed() -> bool:
    """Whether a throttled operation is refused while the cache is down (``THROTTLE_ON_CACHE_FAILURE``)."""
    return auth_settings.THROTTLE_ON_CACHE_FAILURE != "open"


@functools.lru_cache(maxsize=4)
def _namespace(secret_key: str) -> str:
    return salted_hmac("gql_authtoken.cache.project", "cache keys", secret=secret_key).hexdigest()[:16]


def project_namespace() -> str:
    """The part of a cache key that names this project: 16 hex digits of an HMAC keyed with
    ``SECRET_KEY`` (which every host of one project shares, and no other project should).

    In the keys of token entries and of throttle counters. Another project using the same
    cache (a staging site on production's Redis database, two projects on one machine, with
    no ``KEY_PREFIX`` between them) must never serve this one's entries (it has no such row,
    API.md §3, and its user with that primary key is someone else) nor count in its buckets
    (its failed logins on its user 5 would lock this project's user 5 out). Revocation marks
    stay shared: a host still on an older ``SECRET_KEY`` during a rotation keeps entries and
    counters of its own, and every revocation's marks reach it as before.
    """
    return _namespace(settings.SECRET_KEY)
