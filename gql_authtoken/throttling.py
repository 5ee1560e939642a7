"""The one throttle decision both adapters ask, counted per core call.

Each call of a throttled operation (one GraphQL field, however many aliases or
batched operations carry it, or one REST request) counts one attempt in the
buckets of that operation (API.md §8):

- the caller's IP bucket, counted first (``ip_bucket``): once it is full the
  call is refused before any other bucket is touched, so a throttled caller
  cannot make the cache hold one new counter per name it tries;
- the identity's bucket (``identity_bucket``): the account a username or
  address reaches, else the folded name, or a link's digest.

A bucket is a fixed-window counter in the cache (``cache.add`` +
``cache.incr``, atomic in Redis, Memcached and the local-memory cache), under
a key that holds a SHA-256 hash of the project (``cache_access.project_namespace``)
and the bucket's name, never the name. Counters live on the cache's primary;
while the cache is down nothing is counted and a throttled call is refused or
let through as ``THROTTLE_ON_CACHE_FAILURE`` says (``cache_access``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass
from typing import Any

from . import cache_access
from .conf import auth_settings
from .exceptions import Throttled
from .identities import fold

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# The one bucket shared by every request whose address cannot be determined
# (CLIENT_IP_HEADER set but missing, a malformed address, no request at all).
UNKNOWN_IP = "unknown"


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"10/min"`` -> ``(10, 60)`` as DRF reads rates; None disables."""
    if rate is None:
        return None
    count, _, period = str(rate).partition("/")
    return int(count), PERIODS[period.strip()[0].lower()]


def share_of(rate: str | None) -> str | None:
    """Half of ``rate`` (at least one) in the same period: ``"100/hour"`` -> ``"50/hour"``.

    The most one address may use of an account's failure budget, so that no
    single address can use it all up (API.md §8: an attacker at one address
    cannot lock the rightful user out at another).
    """
    if rate is None:
        return None
    count, _, period = str(rate).partition("/")
    return f"{max(1, int(count) // 2)}/{period}"


def clock() -> float:
    """Seconds since the epoch (seam for tests)."""
    return time.time()


def ip_bucket(ip: str | None) -> str:
    """The IP bucket of a client address (as ``callers.client_ip`` gives it).

    An IPv4 address is its own bucket; an IPv4-mapped IPv6 address
    (``::ffff:203.0.113.9``) is the IPv4 one; other IPv6 addresses share one
    bucket per network of ``IPV6_THROTTLE_PREFIX`` bits (default 64: a single
    subscriber usually holds a whole /64, so one bucket per address would be
    no limit at all). No address, or one that does not parse: ``UNKNOWN_IP``.
    """
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return f"ip:{UNKNOWN_IP}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip:{address.ipv4_mapped}"
        network = ipaddress.IPv6Network((address.packed, auth_settings.IPV6_THROTTLE_PREFIX), strict=False)
        return f"ip:{network}"
    return f"ip:{address}"


def identity_bucket(account: Any | None, name: str) -> str:
    """The bucket of an identity: its account's primary key once the name reaches one
    (so every spelling that reaches it shares the bucket, whatever the user manager
    or the database fold), else the folded normalised name; ``""`` (no bucket) for no name."""
    if account is not None:
        return f"account:{account.pk}"
    return f"name:{fold(name)}" if name else ""


def _bucket_key(scope: str, bucket: str, window: int) -> str:
    # Hashed so the cache never holds an address, a username or an email readable; with the
    # project, so another project on the same cache never counts in this one's buckets.
    digest = hashlib.sha256(f"{cache_access.project_namespace()}:{bucket}".encode()).hexdigest()
    return f"gql_authtoken:throttle:{scope}:{digest}:{window}"


@dataclass(frozen=True)
class Counted:
    """The counters one ``throttle`` call added to; ``refund()`` takes that count back."""

    keys: tuple[str, ...] = ()

    def __add__(self, other: Counted) -> Counted:
        return Counted(self.keys + other.keys)

    def refund(self) -> None:
        """Undo the count, e.g. a login attempt reserved as a failure whose password matched."""
        cache_access.attempt(lambda: _decrement(self.keys), None)


def _decrement(keys: tuple[str, ...]) -> None:
    cache = cache_access.primary()
    for key in keys:
        try:
            cache.decr(key)
        except ValueError:  # expired or evicted meanwhile: nothing left to undo
            pass


def throttle(scope: str, buckets: list[str], rate: str | None) -> Counted:
    """Count one attempt in each bucket of ``scope``; raise ``Throttled`` once any is over ``rate``.

    Empty bucket names are skipped. A refused call takes its count back, so a
    counter holds the calls it let through (a caller hammering a full bucket
    does not keep it full). Every bucket of one call is counted, so pass the
    IP bucket in a call of its own, first, when a full one must keep the
    others from being created. Returns what was counted (``Counted``), for a
    caller that may refund it. While the cache is down nothing is counted:
    ``Throttled`` (``THROTTLE_ON_CACHE_FAILURE = "closed"``) or an empty count.
    """
    parsed = parse_rate(rate)
    if parsed is None:
        return Counted()
    limit, duration = parsed
    now = clock()
    window = int(now // duration)
    keys = [_bucket_key(scope, bucket, window) for bucket in buckets if bucket]
    counts = cache_access.attempt(lambda: _count(keys, duration + 1), None)
    if counts is None:  # the cache is down
        if cache_access.throttle_fails_closed():
            raise Throttled(wait=cache_access.RETRY_INTERVAL)
        return Counted()
    counted = Counted(tuple(keys))
    if any(count > limit for count in counts):
        counted.refund()
        raise Throttled(wait=(window + 1) * duration - now)
    return counted


def throttle_identity(scope: str, identity: str, ip: str, rate: str | None) -> Counted:
    """Count one attempt on ``identity``'s bucket against ``rate``, and on its share from the IP
    bucket ``ip`` against half of it (``share_of``), that share first: no single address can fill
    an identity's bucket and so lock its owner out at another (API.md §8). Raises ``Throttled``;
    returns both counts (``Counted``), for a caller that may refund them."""
    share = throttle(scope, [f"{identity} from {ip}"], share_of(rate))
    try:
        return share + throttle(scope, [identity], rate)
    except Throttled:
        share.refund()  # refused: nothing counted
        raise


def _count(keys: list[str], timeout: int) -> list[int]:
    """Add one to each counter (created at 0 for ``timeout`` seconds); their new values."""
    cache = cache_access.primary()
    counts = []
    for key in keys:
        cache.add(key, 0, timeout=timeout)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=timeout)
            count = 1
        if count is None:  # a backend that ignores its errors (django-redis IGNORE_EXCEPTIONS) failed
            raise cache_access.CacheUnanswered(f"incr answered None for {key}")
        counts.append(count)
    return counts
