"""cProfile of one benchmark case: where the time of a token request goes.

    python -m tests.benchmarks.profile "REST gql_authtoken, cached" [--requests 10000] [--top 25]
        [--sort tottime|cumulative] [--output FILE]

The case names are those ``auth_cost`` prints; the project, data and settings
are the same (SQLite and the file-based cache, or DATABASE_URL / REDIS_URL).
Prints the functions that cost the most, and with ``--output`` keeps the
profile for ``python -m pstats`` or snakeviz.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import warnings

from .harness import test_database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", nargs="+", help="one or more case names, as auth_cost prints them")
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--output")
    parser.add_argument("--other-tokens", type=int, default=1000, help="tokens of other users per table")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="The HMAC key is")
    with test_database("tests.legacy.settings"):
        from django.core.cache import cache
        from django.test.utils import override_settings

        from tests.legacy.urls import FLOOR_KEY

        from .auth_cost import bench_cases

        cases = {case.name: case for case in bench_cases(args.other_tokens)}
        for index, name in enumerate(args.case):
            case = cases[name]
            with override_settings(GQL_AUTHTOKEN=case.settings or {}):
                for _ in range(100):  # warm up: caches filled, last_used written
                    assert case.call().startswith("200")
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    case.call()
                profiler.disable()
            print(f"# {name}: {args.requests} requests")
            stats = pstats.Stats(profiler).strip_dirs().sort_stats(args.sort)
            stats.print_stats(args.top)
            if args.output:
                stats.dump_stats(args.output if len(args.case) == 1 else f"{args.output}.{index}")
        cache.delete(FLOOR_KEY)


if __name__ == "__main__":
    main()
