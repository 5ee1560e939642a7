"""Per-request cost of token authentication, side by side with the other libraries, in one run.

    python -m tests.benchmarks.auth_cost [--requests N] [--rounds R]

REST: the same DRF view (it answers the username, anonymous allowed) behind
each library's authentication class: DRF authtoken, django-rest-knox,
django-rest-durin (plain and cached), gql_authtoken (``TokenAuthentication``
with ``TOKEN_CACHE_TIMEOUT = 0``, and ``CachedTokenAuthentication``), plus the
floor of any never-stale shared-cache design: the anonymous view doing one
bare ``cache.get`` of a small key; and the floor of any lookup that asks the
database: the anonymous view running one bare ``SELECT 1``. GraphQL:
``{ me { username } }`` on the same schema, anonymous, anonymous after one
bare ``SELECT 1``, with a gql_authtoken token (uncached and cached) and with
strawberry-django-auth's JWT. Every table holds 1,000 other tokens.

The database and cache are those of the test settings: SQLite and the
file-based cache, or DATABASE_URL (PostgreSQL) and REDIS_URL (Django's
RedisCache). Ratio and overhead are medians of per-round pairs against the
anonymous request of the same kind; SQL and cache are per request (cache:
calls on the cache, each one round trip on Redis).
"""

from __future__ import annotations

import argparse
import json
import warnings

from gql_authtoken.conf import DEFAULTS

from .harness import Case, measure, report, summarise, test_database, wsgi_call

OTHER_TOKENS = 1000
UNCACHED, CACHED = {"TOKEN_CACHE_TIMEOUT": 0}, {"TOKEN_CACHE_TIMEOUT": 60}
# The cache alone: every hit reads the cache once (no hits from the process's own memory).
ONE_TRIP = {"TOKEN_CACHE_TIMEOUT": 60, "TOKEN_LOCAL_CACHE_TIMEOUT": 0}
NEVER_STALE = "revokes at once"
LOCAL = DEFAULTS["TOKEN_LOCAL_CACHE_TIMEOUT"]


def bench_cases(other_tokens: int) -> list:
    """Inside ``test_database("tests.legacy.settings")``: the benchmark's user, ``other_tokens``
    other users with a token in every table, the floor's key, and the cases over them."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.cache import cache

    from tests.legacy.urls import FLOOR_KEY

    settings.ROOT_URLCONF = "tests.legacy.urls"
    User = get_user_model()
    user = User.objects.create_user("bench", "bench@example.com", "x")
    unusable = make_password(None)
    others = User.objects.bulk_create(User(username=f"other{i}", password=unusable) for i in range(other_tokens))
    cache.set(FLOOR_KEY, 1, None)
    return cases_for(make_tokens(user, others))


def make_tokens(user, others):
    """One token per library for ``user`` (each made with its own API), and one for each of ``others``."""
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient
    from gqlauth.jwt.types_ import TokenType
    from knox.models import AuthToken as KnoxToken
    from rest_framework.authtoken.models import Token

    from gql_authtoken import tokens as gql_tokens

    web = DurinClient.objects.create(name="web")
    for other in others:
        gql_tokens.issue_token(other)
        Token.objects.create(user=other)
        KnoxToken.objects.create(user=other)
        DurinToken.objects.create(user=other, client=web)
    return {
        "jwt": TokenType.from_user(user).token,
        "gql_authtoken": gql_tokens.issue_token(user).token,
        "drf": Token.objects.create(user=user).key,
        "knox": KnoxToken.objects.create(user=user)[1],
        "durin": DurinToken.objects.create(user=user, client=web).token,
    }


def cases_for(tokens) -> list[Case]:
    def rest(name, path, token=None, settings=None, note=""):
        auth = f"Token {token}" if token else None
        return Case(f"REST {name}", wsgi_call("GET", f"/{path}/", authorization=auth), "REST anonymous", settings, note)

    me = json.dumps({"query": "{ me { username } }"}).encode()

    def graphql(name, path="graphql", auth=None, settings=None, note=""):
        return Case(f"GraphQL {name}", wsgi_call("POST", f"/{path}/", me, auth), "GraphQL anonymous", settings, note)

    ours = tokens["gql_authtoken"]
    return [
        rest("anonymous", "drf"),
        rest("one cache.get (floor)", "cache-get", note="anonymous; the view reads one small key"),
        rest("one SELECT 1 (floor)", "select-1", note="anonymous; the view runs one bare query"),
        rest("drf authtoken", "drf", tokens["drf"], note=NEVER_STALE),
        rest("knox", "knox", tokens["knox"], note=NEVER_STALE),
        rest("durin", "durin", tokens["durin"], note=NEVER_STALE),
        rest("durin, cached", "durin-cached", tokens["durin"], note="stale: a revoked token works until it expires"),
        rest("gql_authtoken", "gql_authtoken", ours, UNCACHED, NEVER_STALE),
        rest("gql_authtoken, cached", "gql_authtoken-cached", ours, CACHED,
             f"{NEVER_STALE} (revocations wait {LOCAL}s)"),
        rest("gql_authtoken, cached, local 0", "gql_authtoken-cached", ours, ONE_TRIP,
             f"{NEVER_STALE} (revocation marks)"),
        graphql("anonymous"),
        graphql("one SELECT 1 (floor)", "graphql-select-1", note="anonymous; one bare query first"),
        graphql("gql_authtoken", auth=f"Token {ours}", settings=UNCACHED, note=NEVER_STALE),
        graphql("gql_authtoken, cached", auth=f"Token {ours}", settings=CACHED,
                note=f"{NEVER_STALE} (revocations wait {LOCAL}s)"),
        graphql("gql_authtoken, cached, local 0", auth=f"Token {ours}", settings=ONE_TRIP,
                note=f"{NEVER_STALE} (revocation marks)"),
        graphql("strawberry-django-auth (JWT)", "graphql-jwt", f"JWT {tokens['jwt']}",
                note="stale: a JWT is valid until it expires"),
    ]


def _spread(row) -> str:
    low, high = row.ratios
    return f"{low:.2f}x to {high:.2f}x"


def goals(rows) -> list[tuple[str, bool]]:
    """The targets of issue 12, each with whether this run met it."""
    ours, cached = rows["REST gql_authtoken"], rows["REST gql_authtoken, cached"]
    one_trip = rows["REST gql_authtoken, cached, local 0"]
    floor, drf = rows["REST one cache.get (floor)"], rows["REST drf authtoken"]
    gql, gql_cached = rows["GraphQL gql_authtoken"], rows["GraphQL gql_authtoken, cached"]
    gql_floor = rows["GraphQL one SELECT 1 (floor)"]
    return [
        (f"REST uncached overhead {ours.overhead:+.0f} µs <= DRF authtoken's {drf.overhead:+.0f} µs, 1 query",
         ours.overhead <= drf.overhead and ours.queries == 1),
        *[(f"REST {label}: {row.cache_reads:g} cache reads per hit ({row.cache_calls:g} round trips in all, with "
           f"the epoch key's keep-alive), {row.queries:g} queries; overhead "
           f"{row.overhead:+.0f} µs <= 1.3 x the floor's {floor.overhead:+.0f} µs "
           f"({row.overhead / floor.overhead if floor.overhead > 0 else float('inf'):.2f}x)",
           row.cache_reads <= trips and row.queries == 0 and row.overhead <= 1.3 * floor.overhead)
          for label, row, trips in (("cached", cached, 0.05), ("cached, local 0", one_trip, 1))],
        (f"GraphQL cached {gql_cached.ratio:.3f}x <= 1.05x anonymous (rounds: {_spread(gql_cached)})",
         gql_cached.ratio <= 1.05),
        (f"GraphQL uncached {gql.ratio:.3f}x <= 1.3x anonymous (rounds: {_spread(gql)}; "
         f"one bare query alone: {gql_floor.ratio:.3f}x)", gql.ratio <= 1.3),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--other-tokens", type=int, default=OTHER_TOKENS, help="tokens of other users per table")
    parser.add_argument("--prepare-threshold", type=int, default=None,
                        help="PostgreSQL: DATABASES OPTIONS prepare_threshold (prepared statements allowed)")
    args = parser.parse_args()
    # strawberry-django-auth signs with the test SECRET_KEY, which PyJWT finds short.
    warnings.filterwarnings("ignore", message="The HMAC key is")
    options = {} if args.prepare_threshold is None else {"prepare_threshold": args.prepare_threshold}
    with test_database("tests.legacy.settings", options=options):
        from django.core.cache import cache

        from tests.legacy.urls import FLOOR_KEY

        cases = bench_cases(args.other_tokens)
        rows = summarise(cases, measure(cases, rounds=args.rounds, requests=args.requests))
        report(cases, rows, rounds=args.rounds, requests=args.requests)
        print()
        for text, met in goals(rows):
            print(f"{'met    ' if met else 'NOT MET'}  {text}")
        cache.delete(FLOOR_KEY)


if __name__ == "__main__":
    main()
