"""What a login costs on top of the password hasher.

    python -m tests.benchmarks.login [--rounds R]

Compares ``login.login`` (throttle buckets, authenticate(), token issue,
signals, last_login) with ``check_password`` alone, both with Django's default
hasher (PBKDF2), in the same run. Login throttling is off for the measurement.
"""

from __future__ import annotations

import argparse
import statistics

from .harness import test_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with test_database("tests.settings"):
        import time

        from django.conf import global_settings
        from django.contrib.auth import get_user_model
        from django.test.utils import override_settings

        from gql_authtoken import login

        with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS,
                               GQL_AUTHTOKEN={"LOGIN_THROTTLE_RATE": None}):
            user = get_user_model().objects.create_user("bench", "bench@example.com", "a-long-password")

            def check():
                assert user.check_password("a-long-password")

            def login():
                login.login(None, username="bench", password="a-long-password")

            times = {"check_password": [], "login": []}
            for _ in range(args.rounds):
                for name, function in (("check_password", check), ("login", login)):
                    start = time.perf_counter()
                    function()
                    times[name].append(time.perf_counter() - start)
            hasher = global_settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
            base = statistics.median(times["check_password"])
            print(f"# {hasher}, {args.rounds} rounds, median")
            for name, values in times.items():
                median = statistics.median(values)
                print(f"{name:16} {median * 1000:8.1f} ms  {median / base:6.3f}x  (+{(median - base) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
