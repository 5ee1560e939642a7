"""How the token cache is reached: always on its primary, and done without while it is down.

Everything that decides whether a token is live (the cached entry, the
revocation marks) or counts a throttle attempt goes through ``primary()`` and
``attempt()`` (docs/deployment.md says why, for operators).

**Primary.** A Redis cache with replicas reads from a replica: Django's
``RedisCache`` given several ``LOCATION`` s writes to the first and reads from
another at random, django-redis does the same and, with its ``SentinelClient``,
reads from a replica Sentinel names. A mark written to the primary is not on a
replica that lags, and a token revoked a moment ago would be served from its
entry there. ``primary()`` gives a copy of such a cache whose reads go where its
writes go (the first server). Other backends are returned as they are.

**Outage.** When a cache operation fails (Redis stopped, unreachable, timed
out), the process logs it once, counts the cache as down and leaves it alone
for ``RETRY_INTERVAL`` seconds at a time: tokens are checked in the database
(``cache.lookup`` returns None), marks are not written, and throttling fails
closed or open as ``THROTTLE_ON_CACHE_FAILURE`` says. A mark that was not
written is lost, so an entry loaded before the outage could be served after it
for a token revoked meanwhile. Hence, before it uses the cache again, a process
that saw it fail writes the **outage mark** (the time it got through): like a
user's mark but for every entry, so every entry loaded before it is refused and
loaded again from the database. Nothing is read from the cache until that
write has succeeded.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError

from .conf import auth_settings
from .exceptions import AuthTokenError

logger = logging.getLogger("gql_authtoken")

T = TypeVar("T")

# Refuses every cache entry loaded before it (see the module docstring); it lives
# TOKEN_CACHE_TIMEOUT (the longest an entry is served) + this many seconds.
OUTAGE_MARK = "gql_authtoken:mark:outage"
OUTAGE_MARK_MARGIN = 300
# Seconds a process leaves the cache alone after a failure before it tries again:
# one failed round trip (maybe a connect timeout) per second, not several per request.
RETRY_INTERVAL = 1.0
# What the token lookup itself raises (an unknown token, a database error): never a cache failure.
LOAD_ERRORS: tuple[type[Exception], ...] = (AuthTokenError, DatabaseError)
THROTTLE_FAILURE_MODES = ("closed", "open")


def monotonic() -> float:
    """Seconds on a clock that only goes forward (seam for tests)."""
    return time.monotonic()


def wall_clock() -> float:
    """Seconds since the epoch, as entries' ``loaded_at`` and the marks hold them (seam for tests)."""
    return time.time()


# --- reading from the primary -----------------------------------------------------


@functools.cache
def _primary_client_class(client_class: Any) -> type:
    """Django's ``RedisCacheClient`` (or a subclass) whose ``get_client`` always gives the first server's."""

    def get_client(self: Any, key: Any = None, *, write: bool = False) -> Any:
        return client_class.get_client(self, key, write=True)

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
    """A copy of ``cache`` whose reads go to its primary, or ``cache`` when they already do.

    Django's ``RedisCache`` and django-redis keep their servers and client class in
    attributes of their own (``_servers``, ``_class``; ``_server``, ``_client_cls``).
    """
    if isinstance(cache, RedisCache) and len(getattr(cache, "_servers", ())) > 1:
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


# One view per cache object: Django keeps one cache object per thread and alias.
_views: weakref.WeakKeyDictionary[BaseCache, BaseCache] = weakref.WeakKeyDictionary()
_views_lock = threading.Lock()


def primary(alias: str | None = None) -> BaseCache:
    """The cache ``alias`` (default ``TOKEN_CACHE_ALIAS``), reading from its primary."""
    cache = caches[alias or auth_settings.TOKEN_CACHE_ALIAS]
    with _views_lock:
        view = _views.get(cache)
        if view is None:
            view = _views[cache] = _primary_view(cache)
    return view


# --- outages ----------------------------------------------------------------------


class _Outage:
    """This process's view of the cache: down since when, last tried when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None  # monotonic()
        self.last_try = 0.0


_outage = _Outage()


def is_down() -> bool:
    """Whether this process counts the token cache as down (a failure not yet followed by the outage mark)."""
    return _outage.down_since is not None


def reset() -> None:
    """Forget any outage (for tests: a new test starts with a cache that works)."""
    with _outage.lock:
        _outage.down_since = None
        _outage.last_try = 0.0


def _failed(error: Exception) -> None:
    with _outage.lock:
        _outage.last_try = monotonic()
        if _outage.down_since is not None:
            return  # said once per outage
        _outage.down_since = _outage.last_try
    logger.warning(
        "The token cache (CACHES[%r]) failed (%s: %s); tokens are checked in the database until it answers "
        "again, and throttled operations are %s meanwhile (THROTTLE_ON_CACHE_FAILURE).",
        auth_settings.TOKEN_CACHE_ALIAS, type(error).__name__, error,
        "refused" if auth_settings.THROTTLE_ON_CACHE_FAILURE == "closed" else "let through uncounted")


def _reachable() -> bool:
    """Whether the cache may be used now; after an outage, only once the outage mark is written."""
    with _outage.lock:
        if _outage.down_since is None:
            return True
        if monotonic() - _outage.last_try < RETRY_INTERVAL:
            return False
        _outage.last_try = monotonic()
    try:
        primary().set(OUTAGE_MARK, wall_clock(), timeout=int(auth_settings.TOKEN_CACHE_TIMEOUT) + OUTAGE_MARK_MARGIN)
    except Exception:
        return False  # still down; said when it began
    with _outage.lock:
        since, _outage.down_since = _outage.down_since, None
    if since is not None:
        logger.warning("The token cache (CACHES[%r]) answers again after %.1f seconds; entries cached before "
                       "now are loaded again from the database.", auth_settings.TOKEN_CACHE_ALIAS, monotonic() - since)
    return True


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
