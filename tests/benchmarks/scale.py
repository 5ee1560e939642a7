"""Behaviour at scale, on PostgreSQL (DATABASE_URL must point at it).

    DATABASE_URL=postgres://... python -m tests.benchmarks.scale [--max-tokens 1000000]

- lookup time (uncached) with 10^3, 10^5 and 10^6 tokens in the table;
- logoutAll of a user with 100 and with 10,000 sessions: queries (the same) and time;
- clear_expired_tokens over 10^6 expired rows: time and peak Python memory.

Rows are generated inside PostgreSQL (generate_series) to keep set-up short.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from .harness import test_database


def fill(user_id: int, count: int, *, expired: bool = False, prefix: str = "x") -> None:
    """``count`` token rows for one user, made by PostgreSQL itself."""
    from django.db import connection

    expiry = "now() - interval '1 hour'" if expired else "now() + interval '1 day'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO gql_authtoken_authtoken (user_id, digest, created, expiry, last_used, user_agent)
                SELECT %s, encode(sha512(convert_to(%s || i::text, 'UTF8')), 'hex'), now(), {expiry}, now(), ''
                FROM generate_series(1, %s) AS i""",
            [user_id, f"{prefix}-{time.time_ns()}-", count],
        )
        cursor.execute("ANALYZE gql_authtoken_authtoken")


def timed(function, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=1_000_000)
    args = parser.parse_args()
    with test_database("tests.settings"):
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test.utils import CaptureQueriesContext, override_settings

        from gql_authtoken import tokens
        from gql_authtoken.models import AuthToken

        assert connection.vendor == "postgresql", "set DATABASE_URL to a PostgreSQL database"
        user_model = get_user_model()
        owner = user_model.objects.create_user("filler")
        user = user_model.objects.create_user("bench")
        token = tokens.issue_token(user).token
        print(f"# PostgreSQL {connection.pg_version // 10000}, uncached lookups (TOKEN_CACHE_TIMEOUT=0)")
        print(f"{'tokens in table':>16} {'lookup µs':>10}")
        with override_settings(GQL_AUTHTOKEN={"TOKEN_CACHE_TIMEOUT": 0}):
            present = AuthToken.objects.count()
            for target in (10**3, 10**5, 10**6):
                if target > args.max_tokens:
                    break
                fill(owner.pk, target - present)
                present = target
                tokens.authenticate_token(token)
                print(f"{target:>16,} {timed(lambda: tokens.authenticate_token(token), 2000) * 1e6:10.1f}")

        AuthToken.objects.filter(user=owner).delete()
        print()
        for sessions in (100, 10_000):  # the number of queries must not grow with the sessions
            fill(user.pk, sessions)
            with CaptureQueriesContext(connection) as queries:
                seconds = timed(lambda: tokens.logout_all(None, user))
            print(f"logoutAll of {sessions:,} sessions: {len(queries)} queries, {seconds * 1000:.0f} ms")

        count = min(args.max_tokens, 10**6)
        fill(owner.pk, count, expired=True)
        tracemalloc.start()
        seconds = timed(lambda: tokens.clear_expired_tokens())
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"clear_expired_tokens over {count:,} expired rows (batches of 1000): "
              f"{seconds:.1f} s, peak Python memory {peak / 2**20:.1f} MiB")
        assert not AuthToken.objects.filter(user=owner).exists()


if __name__ == "__main__":
    main()
