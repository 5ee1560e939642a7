"""Per-request cost of token authentication, against the same request made anonymously.

    python -m tests.benchmarks.auth_cost [--requests N] [--rounds R]

Runs in-process through Django's WSGI handler (the full middleware and view
stack, without a socket or Django's test client, whose per-request signal
bookkeeping would blur the numbers) on the database and cache the test
settings pick (SQLite and local memory, or DATABASE_URL / REDIS_URL). Each case is timed in R rounds of N requests,
interleaved with the others so machine noise hits all alike; the median round
is reported. Ratios are to the anonymous request of the same kind.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    setup_test_environment()
    # Persistent connections, as production runs: a new PostgreSQL connection per
    # request would cost more than everything measured here.
    connection.settings_dict["CONN_MAX_AGE"] = None
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.contrib.auth import get_user_model

        from gql_authtoken import services

        cache.clear()
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        token = services.issue_token(user).token
        handler = WSGIHandler()
        graphql = json.dumps({"query": "{ me { username } }"}).encode()

        def request(method, path, body=b"", authorization=None):
            def call():
                environ = {
                    "REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "testserver",
                    "SERVER_PORT": "80", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
                    "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                    "CONTENT_TYPE": "application/json",
                }
                if authorization:
                    environ["HTTP_AUTHORIZATION"] = authorization
                statuses = []
                chunks = handler(environ, lambda status, headers: statuses.append(status))
                b"".join(chunks)
                return statuses[0]

            return call

        auth = f"Token {token}"
        cases = [
            ("GraphQL anonymous", request("POST", "/graphql/sync/", graphql), None),
            ("GraphQL token, uncached", request("POST", "/graphql/sync/", graphql, auth), 0),
            ("GraphQL token, cached", request("POST", "/graphql/sync/", graphql, auth), 60),
            ("REST anonymous", request("GET", "/optional/"), None),
            ("REST token, uncached", request("GET", "/optional/", authorization=auth), 0),
            ("REST token, cached", request("GET", "/optional/", authorization=auth), 60),
        ]

        executed = []

        def count_queries(execute, sql, params, many, context):
            executed.append(sql)
            return execute(sql, params, many, context)

        def run(call, timeout, count):
            with override_settings(GQL_AUTHTOKEN={"TOKEN_CACHE_TIMEOUT": timeout if timeout is not None else 60}):
                assert call().startswith("200"), "warm-up request failed"  # fills the cache when cached
                gc.collect()
                executed.clear()
                with connection.execute_wrapper(count_queries):
                    start = time.perf_counter()
                    for _ in range(count):
                        call()
                    elapsed = time.perf_counter() - start
                return elapsed / count, len(executed) / count

        timings = {name: [] for name, _, _ in cases}
        queries = {}
        for _ in range(args.rounds):
            for name, call, timeout in cases:
                seconds, per_request = run(call, timeout, args.requests)
                timings[name].append(seconds)
                queries[name] = per_request

        print(f"# {platform.python_implementation()} {platform.python_version()}, Django {django.get_version()}, "
              f"{connection.vendor}, {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}, "
              f"{os.cpu_count()} CPUs; {args.rounds} rounds x {args.requests} requests, median round")
        print(f"{'case':28} {'µs/request':>11} {'vs anonymous':>13} {'SQL/request':>12}")
        for name, _, _ in cases:
            median = statistics.median(timings[name])
            base = statistics.median(timings[f"{name.split()[0]} anonymous"])
            print(f"{name:28} {median * 1e6:11.1f} {median / base:12.3f}x {queries[name]:12.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
