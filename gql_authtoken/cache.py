"""Cached token lookup (django-cache-memoize) and its invalidation.

A lookup is memoised under the token's digest *and* its revocation mark: a
random value kept in the cache for each digest that was revoked, refreshed,
rotated or whose user changed. The mark is read before the database, so:

- a revocation writes a new mark, and every later request looks under a key
  nothing was stored at: the next request after a revocation is refused, in
  every process sharing the cache;
- a request that missed the cache and read the database just before a
  revocation stores its entry under the old mark, where no one looks again.

Marks are written at once and again when the transaction commits, so a
request that refills the cache between the two (still seeing the old row)
is covered too. Marks outlive entries by ``MARK_MARGIN`` seconds, longer than
any request takes between its database read and its cache write.

Entries hold the ``AuthToken`` with its user (password hash removed, so it is
loaded from the database only if code asks for it) and client; never a
plaintext token. Failed lookups raise and are never stored, so invalid tokens
cannot flood the cache.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from cache_memoize import cache_memoize
from django.core.cache import caches
from django.db import transaction

from .conf import auth_settings
from .models import AuthToken

MARK_MARGIN = 300
_PREFIX = "gql_authtoken"


def enabled() -> bool:
    return bool(auth_settings.TOKEN_CACHE_TIMEOUT)


def _cache() -> Any:
    return caches[auth_settings.TOKEN_CACHE_ALIAS]


def _mark_key(digest: str) -> str:
    return f"{_PREFIX}:mark:{digest}"


class _NotCacheable(Exception):
    """Carries a row out of the memoised loader without it being stored."""

    def __init__(self, instance: AuthToken):
        self.instance = instance


@functools.lru_cache(maxsize=16)
def _memoized(timeout: int, alias: str, load: Callable[..., AuthToken]) -> Any:
    """The memoised loader for these settings (built once per combination)."""

    def load_for_cache(digest: str, legacy_digest: str | None, mark: str | None) -> AuthToken:
        instance = load(digest, legacy_digest)
        if instance.digest != digest:
            # An imported legacy row: revocations mark its stored digest, which
            # is not this key, so it is never cached (one query each time).
            raise _NotCacheable(instance)
        # The password hash never goes into the cache; Django loads a deferred
        # field from the database if anything reads it.
        instance.user.__dict__.pop("password", None)
        return instance

    return cache_memoize(timeout, prefix=f"{_PREFIX}.token", cache_alias=alias)(load_for_cache)


def _loader(load: Callable[..., AuthToken]) -> Any:
    return _memoized(auth_settings.TOKEN_CACHE_TIMEOUT, auth_settings.TOKEN_CACHE_ALIAS, load)


def lookup(
    digest: str, legacy_digest: str | None, load: Callable[..., AuthToken]
) -> tuple[AuthToken, str | None]:
    """The token for ``digest`` from the cache, or from ``load`` (stored on success)."""
    mark = _cache().get(_mark_key(digest))
    try:
        return _loader(load)(digest, legacy_digest, mark), mark
    except _NotCacheable as uncached:
        return uncached.instance, mark


def update(
    digest: str, legacy_digest: str | None, mark: str | None, instance: AuthToken, load: Callable[..., AuthToken]
) -> None:
    """Store a changed copy (a new ``last_used``) under the same key."""
    key = _loader(load).get_cache_key(digest, legacy_digest, mark)
    _cache().set(key, instance, auth_settings.TOKEN_CACHE_TIMEOUT)


def forget(digests: Iterable[str]) -> None:
    """Make cached lookups of these digests miss, now and when the transaction commits."""
    digests = list(digests)
    if not digests or not enabled():
        return  # with the cache off nothing is stored, and no round trip is made

    def write_marks() -> None:
        timeout = int(auth_settings.TOKEN_CACHE_TIMEOUT) + MARK_MARGIN
        _cache().set_many({_mark_key(d): secrets.token_hex(8) for d in digests}, timeout=timeout)

    write_marks()
    transaction.on_commit(write_marks, robust=True)


def invalidate_user_tokens(user: Any) -> None:
    """Drop every cached lookup of the user's tokens.

    Call it after changing users with ``QuerySet.update()`` or raw SQL, which
    send no signals; ``save()`` and ``delete()`` do it by themselves. Without
    it such a change shows after ``TOKEN_CACHE_TIMEOUT`` seconds.
    """
    user_id = getattr(user, "pk", user)
    forget(AuthToken.objects.filter(user_id=user_id).values_list("digest", flat=True))
