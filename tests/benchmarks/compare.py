"""Token authentication side by side: gql_authtoken, DRF, knox, durin, strawberry-django-auth.

    python -m tests.benchmarks.compare [--requests N] [--rounds R]

REST: the same DRF view (it answers the username, anonymous allowed) behind
each library's authentication class. GraphQL: ``{ me { username } }`` on the
same schema, authenticated by gql_authtoken or by strawberry-django-auth's JWT.
One project, one database and cache, one run; each library's token comes from
its own API. "Revokes at once" says whether a logout is refused on the very
next request.
"""

from __future__ import annotations

import argparse
import json

from .harness import Case, measure, report, test_database, wsgi_call

LIBRARIES = [
    ("gql_authtoken", "gql_authtoken", "yes"),
    ("gql_authtoken-cached", "gql_authtoken", "yes (revocation marks)"),
    ("drf", "drf", "yes"),
    ("knox", "knox", "yes"),
    ("durin", "durin", "yes"),
    ("durin-cached", "durin", "no: stale for up to its cache timeout"),
]


def tokens_for(user):
    """One token per library, made with that library's own API."""
    from durin.models import AuthToken as DurinToken
    from durin.models import Client as DurinClient
    from gqlauth.jwt.types_ import TokenType
    from knox.models import AuthToken as KnoxToken
    from rest_framework.authtoken.models import Token

    from gql_authtoken import tokens

    return {
        "jwt": TokenType.from_user(user).token,
        "gql_authtoken": tokens.issue_token(user).token,
        "drf": Token.objects.create(user=user).key,
        "knox": KnoxToken.objects.create(user=user)[1],
        "durin": DurinToken.objects.create(user=user, client=DurinClient.objects.create(name="web")).token,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with test_database("tests.legacy.settings"):
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.cache import cache

        settings.ROOT_URLCONF = "tests.legacy.urls"
        cache.clear()
        user = get_user_model().objects.create_user("bench", "bench@example.com", "x")
        tokens = tokens_for(user)
        cases = [Case("REST anonymous", wsgi_call("GET", "/drf/"), "REST anonymous")]
        for path, library, revokes in LIBRARIES:
            call = wsgi_call("GET", f"/{path}/", authorization=f"Token {tokens[library]}")
            cases.append(Case(f"REST {path}", call, "REST anonymous", note=f"revokes at once: {revokes}"))
        me = json.dumps({"query": "{ me { username } }"}).encode()
        ours = f"Token {tokens['gql_authtoken']}"
        cases += [
            Case("GraphQL anonymous", wsgi_call("POST", "/graphql/", me), "GraphQL anonymous"),
            Case("GraphQL gql_authtoken", wsgi_call("POST", "/graphql/", me, ours), "GraphQL anonymous",
                 {"TOKEN_CACHE_TIMEOUT": 0}, "revokes at once: yes"),
            Case("GraphQL gql_authtoken-cached", wsgi_call("POST", "/graphql/", me, ours), "GraphQL anonymous",
                 {"TOKEN_CACHE_TIMEOUT": 60}, "revokes at once: yes (revocation marks)"),
            Case("GraphQL strawberry-django-auth", wsgi_call("POST", "/graphql-jwt/", me, f"JWT {tokens['jwt']}"),
                 "GraphQL anonymous", note="revokes at once: no: a JWT is valid until it expires"),
        ]
        report(cases, measure(cases, rounds=args.rounds, requests=args.requests),
               rounds=args.rounds, requests=args.requests)


if __name__ == "__main__":
    main()
