"""Shared benchmark plumbing: a test database, raw WSGI calls, interleaved timing rounds."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@contextlib.contextmanager
def test_database(settings_module: str, *, options: dict[str, Any] | None = None) -> Iterator[None]:
    """Django set up with ``settings_module`` and a fresh test database, removed afterwards
    (``options``: added to the database's ``OPTIONS``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # Persistent connections, as production runs: a new PostgreSQL connection per
    # request would cost more than everything measured.
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.settings_dict["OPTIONS"] = {**connection.settings_dict.get("OPTIONS", {}), **(options or {})}
    # Its own test database, so a benchmark never collides with a test run (nor
    # with another run on this machine: GQL_AUTHTOKEN_TEST_RUN, as the tests).
    suffix = os.environ.get("GQL_AUTHTOKEN_TEST_RUN", "")
    connection.settings_dict["TEST"]["NAME"] = "test_gql_authtoken_bench" + (f"_{suffix}" if suffix else "")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def wsgi_call(method: str, path: str, body: bytes = b"", authorization: str | None = None) -> Callable[[], str]:
    """A function that sends one request straight through Django's WSGI handler.

    No socket and no Django test client (whose per-request signal bookkeeping
    would blur the numbers); returns the status line.
    """
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()

    def call() -> str:
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "testserver", "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
        }
        if authorization:
            environ["HTTP_AUTHORIZATION"] = authorization
        statuses: list[str] = []
        b"".join(handler(environ, lambda status, headers: statuses.append(status)))
        return statuses[0]

    return call


@dataclass
class Case:
    name: str
    call: Callable[[], str]
    baseline: str  # the name of the anonymous case to compare with
    settings: dict[str, Any] | None = None  # GQL_AUTHTOKEN while it runs
    note: str = ""


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)  # per round, per request
    queries: float = 0.0  # SQL queries per request
    cache_calls: float = 0.0  # cache round trips per request
    cache_reads: float = 0.0  # of which reads (a hit's own round trips; the rest write)


# The cache methods that each cost one round trip on Django's RedisCache (get_many is
# one MGET, set_many one pipeline). Only the outermost call counts: BaseCache's
# get_many calls get per key, get_or_set calls get and add.
CACHE_METHODS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr", "decr", "touch",
                 "has_key", "clear", "get_or_set")
READ_METHODS = frozenset({"get", "get_many", "has_key"})


@contextlib.contextmanager
def counting_cache_calls(alias: str = "default") -> Iterator[list[str]]:
    """Count the calls made on the cache ``alias`` while the block runs: on this thread's
    instance and on the token cache's primary view (``cache_access.primary``, one per process
    for Redis)."""
    from django.core.cache import caches

    from gql_authtoken import cache_access

    objects = list({id(cache): cache for cache in (caches[alias], cache_access.primary(alias))}.values())
    calls: list[str] = []
    depth = [0]

    def counted(method: Callable[..., Any], name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not depth[0]:
                calls.append(name)
            depth[0] += 1
            try:
                return method(*args, **kwargs)
            finally:
                depth[0] -= 1

        return call

    for cache in objects:
        for name in CACHE_METHODS:
            setattr(cache, name, counted(getattr(cache, name), name))
    try:
        yield calls
    finally:
        for cache in objects:
            for name in CACHE_METHODS:
                delattr(cache, name)


def measure(cases: list[Case], *, rounds: int, requests: int) -> dict[str, Result]:
    """Seconds per request of every round, SQL queries and cache round trips per request, for each case.

    Cases run interleaved, round after round, so machine noise falls on all alike.
    """
    from django.db import connection
    from django.test.utils import override_settings

    executed: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed.append(sql)
        return execute(sql, params, many, context)

    results = {case.name: Result() for case in cases}
    for _ in range(rounds):
        for case in cases:
            with override_settings(GQL_AUTHTOKEN=case.settings or {}):
                status = case.call()
                assert status.startswith("200"), f"{case.name}: warm-up request answered {status}"
                gc.collect()
                executed.clear()
                with connection.execute_wrapper(count), counting_cache_calls() as calls:
                    start = time.perf_counter()
                    for _ in range(requests):
                        case.call()
                    results[case.name].seconds.append((time.perf_counter() - start) / requests)
                results[case.name].queries = len(executed) / requests
                results[case.name].cache_calls = len(calls) / requests
                results[case.name].cache_reads = sum(call in READ_METHODS for call in calls) / requests
    return results


@dataclass(frozen=True)
class Row:
    microseconds: float  # median round
    ratio: float  # median of the per-round ratios to the baseline
    overhead: float  # median of the per-round differences to the baseline, in µs
    queries: float
    cache_calls: float
    cache_reads: float
    ratios: tuple[float, float] = (0.0, 0.0)  # the lowest and highest per-round ratio: how much the run moved


def summarise(cases: list[Case], results: dict[str, Result]) -> dict[str, Row]:
    """Medians of per-round pairs: each round's case against the same round's baseline."""
    rows = {}
    for case in cases:
        own, base = results[case.name].seconds, results[case.baseline].seconds
        ratios = [a / b for a, b in zip(own, base, strict=True)]
        rows[case.name] = Row(
            statistics.median(own) * 1e6,
            statistics.median(ratios),
            statistics.median((a - b) * 1e6 for a, b in zip(own, base, strict=True)),
            results[case.name].queries,
            results[case.name].cache_calls,
            results[case.name].cache_reads,
            (min(ratios), max(ratios)),
        )
    return rows


def header(*, rounds: int, requests: int) -> str:
    import django
    from django.conf import settings
    from django.db import connection

    return (f"# {platform.python_implementation()} {platform.python_version()}, Django {django.get_version()}, "
            f"{connection.vendor}, {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, "
            f"{os.cpu_count()} CPUs; {rounds} rounds x {requests} requests, medians of per-round pairs")


def report(cases: list[Case], rows: dict[str, Row], *, rounds: int, requests: int) -> None:
    print(header(rounds=rounds, requests=requests))
    print(f"{'case':34} {'µs/request':>10} {'ratio':>7} {'rounds':>11} {'overhead µs':>11} {'SQL':>5} "
          f"{'cache':>5} {'reads':>5}  note")
    for case in cases:
        row = rows[case.name]
        low, high = row.ratios
        print(f"{case.name:34} {row.microseconds:10.1f} {row.ratio:6.3f}x {low:5.2f}-{high:<5.2f} "
              f"{row.overhead:+11.1f} {row.queries:5.2f} {row.cache_calls:5.2f} {row.cache_reads:5.2f}  {case.note}")
