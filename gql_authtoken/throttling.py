"""The one throttle decision both adapters ask, counted per core call.

Each call of a throttled operation (one GraphQL field, however many aliases or
batched operations carry it, or one REST request) counts one attempt in every
bucket it touches: one per client IP and one per identifier (the normalised
username or email, or the digest of a confirmation token). A bucket is a
fixed-window counter in the cache (``cache.add`` + ``cache.incr``, atomic in
Redis and the local-memory cache).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import caches

from .conf import auth_settings
from .exceptions import Throttled

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """``"10/min"`` -> ``(10, 60)`` as DRF reads rates; None disables."""
    if rate is None:
        return None
    count, _, period = str(rate).partition("/")
    return int(count), PERIODS[period.strip()[0].lower()]


def clock() -> float:
    """Seconds since the epoch (seam for tests)."""
    return time.time()


def _bucket_key(scope: str, identity: str, window: int) -> str:
    # Identities (emails, IPs) are hashed so the cache never holds them readable.
    digest = hashlib.sha256(identity.encode()).hexdigest()
    return f"gql_authtoken:throttle:{scope}:{digest}:{window}"


def throttle(scope: str, identities: list[Any], rate: str | None) -> None:
    """Count one attempt for each identity; raise ``Throttled`` once any is over the rate."""
    parsed = parse_rate(rate)
    if parsed is None:
        return
    limit, duration = parsed
    cache = caches[auth_settings.TOKEN_CACHE_ALIAS]
    now = clock()
    window = int(now // duration)
    wait = (window + 1) * duration - now
    over = False
    for identity in identities:
        if identity in (None, ""):
            continue
        key = _bucket_key(scope, str(identity), window)
        cache.add(key, 0, timeout=duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=duration + 1)
            count = 1
        over = over or count > limit
    if over:
        raise Throttled(wait=wait)
