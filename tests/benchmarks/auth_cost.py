"""Per-request cost of token authentication, against the same request made anonymously.

    python -m tests.benchmarks.auth_cost [--requests N] [--rounds R]

GraphQL (``{ me { username } }`` to the sync view) and a small DRF view, on the
database and cache the test settings pick (SQLite and the file-based cache, or
DATABASE_URL / REDIS_URL). Ratios are to the anonymous request of the same kind.
"""

from __future__ import annotations

import argparse
import json

from .harness import Case, measure, report, test_database, wsgi_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with test_database("tests.settings"):
        from django.contrib.auth import get_user_model
        from django.core.cache import cache

        from gql_authtoken import tokens

        cache.clear()
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        auth = f"Token {tokens.issue_token(user).token}"
        graphql = json.dumps({"query": "{ me { username } }"}).encode()
        uncached, cached = {"TOKEN_CACHE_TIMEOUT": 0}, {"TOKEN_CACHE_TIMEOUT": 60}
        cases = [
            Case("GraphQL anonymous", wsgi_call("POST", "/graphql/sync/", graphql), "GraphQL anonymous"),
            Case("GraphQL token, uncached", wsgi_call("POST", "/graphql/sync/", graphql, auth),
                 "GraphQL anonymous", uncached),
            Case("GraphQL token, cached", wsgi_call("POST", "/graphql/sync/", graphql, auth),
                 "GraphQL anonymous", cached),
            Case("REST anonymous", wsgi_call("GET", "/optional/"), "REST anonymous"),
            Case("REST token, uncached", wsgi_call("GET", "/optional/", authorization=auth),
                 "REST anonymous", uncached),
            Case("REST token, cached", wsgi_call("GET", "/optional/", authorization=auth), "REST anonymous", cached),
        ]
        report(cases, measure(cases, rounds=args.rounds, requests=args.requests),
               rounds=args.rounds, requests=args.requests)


if __name__ == "__main__":
    main()
