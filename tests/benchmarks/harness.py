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
from dataclasses import dataclass
from typing import Any


@contextlib.contextmanager
def test_database(settings_module: str) -> Iterator[None]:
    """Django set up with ``settings_module`` and a fresh test database, removed afterwards."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    # Persistent connections, as production runs: a new PostgreSQL connection per
    # request would cost more than everything measured.
    connection.settings_dict["CONN_MAX_AGE"] = None
    # Its own test database, so a benchmark never collides with a test run.
    connection.settings_dict["TEST"]["NAME"] = "test_gql_authtoken_bench"
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


def measure(cases: list[Case], *, rounds: int, requests: int) -> dict[str, tuple[float, float]]:
    """Median seconds per request and SQL queries per request, for each case.

    Cases run interleaved, round after round, so machine noise falls on all alike.
    """
    from django.db import connection
    from django.test.utils import override_settings

    executed: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        executed.append(sql)
        return execute(sql, params, many, context)

    timings: dict[str, list[float]] = {case.name: [] for case in cases}
    queries: dict[str, float] = {}
    for _ in range(rounds):
        for case in cases:
            with override_settings(GQL_AUTHTOKEN=case.settings or {}):
                status = case.call()
                assert status.startswith("200"), f"{case.name}: warm-up request answered {status}"
                gc.collect()
                executed.clear()
                with connection.execute_wrapper(count):
                    start = time.perf_counter()
                    for _ in range(requests):
                        case.call()
                    timings[case.name].append((time.perf_counter() - start) / requests)
                queries[case.name] = len(executed) / requests
    return {name: (statistics.median(values), queries[name]) for name, values in timings.items()}


def report(cases: list[Case], results: dict[str, tuple[float, float]], *, rounds: int, requests: int) -> None:
    import django
    from django.conf import settings
    from django.db import connection

    print(f"# {platform.python_implementation()} {platform.python_version()}, Django {django.get_version()}, "
          f"{connection.vendor}, {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, "
          f"{os.cpu_count()} CPUs; {rounds} rounds x {requests} requests, median round")
    print(f"{'case':32} {'µs/request':>11} {'vs anonymous':>13} {'SQL/request':>12}  note")
    for case in cases:
        seconds, sql = results[case.name]
        ratio = seconds / results[case.baseline][0]
        print(f"{case.name:32} {seconds * 1e6:11.1f} {ratio:12.3f}x {sql:12.2f}  {case.note}")
