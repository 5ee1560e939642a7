"""Run by tests/test_replicas.py under tests.read_replica.settings (a router reading from an empty replica).

Every read that decides whether a token is live goes to ``router.db_for_write``:
authentication, refresh, rotation and every revocation work although the replica
holds none of the tokens; the sessions list reads the replica (it shows the lag).
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext

from gql_authtoken import crypto, tokens
from gql_authtoken.models import AuthToken
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(databases=["default", "replica"], transaction=True)


def graphql(query, token):
    response = DjangoClient().post("/graphql/sync/", json.dumps({"query": query}), content_type="application/json",
                                   headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200, response.content
    return response.json()


def me(token):
    return graphql("{ me { username } }", token)["data"]["me"]


def rest(path, token, method="get"):
    return getattr(DjangoClient(), method)(path, headers={"Authorization": f"Token {token}"}).status_code


@pytest.fixture
def user():
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    # The replica holds nothing: every read routed there finds nothing.
    assert not get_user_model().objects.exists() and get_user_model().objects.using("default").count() == 1
    return user


def test_authentication_reads_the_primary(user):
    token = tokens.issue_token(user).token
    assert not AuthToken.objects.exists()  # routed to the replica: no token there
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert me(token) == {"username": "alice"}
        assert me(token) == {"username": "alice"}  # from the cache
        assert rest("/not-cli/", token) == 200  # plain TokenAuthentication: a query each time
        assert rest("/cached/", token) == 200
    assert on_replica.captured_queries == []


def test_the_sessions_list_may_read_the_replica(user):
    token = tokens.issue_token(user).token
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert graphql("{ sessions { id } }", token)["data"] == {"sessions": []}
    assert len(on_replica.captured_queries) == 1  # the list, from the replica that lags


def test_revocations_find_tokens_the_replica_does_not_have(user):
    first, second, third = (tokens.issue_token(user).token for _ in range(3))
    pk = AuthToken.objects.using("default").get(digest=crypto.hash_token(second)).pk
    payload = graphql(f'mutation {{ revokeSession(id: "{pk}") {{ __typename }} }}', first)["data"]["revokeSession"]
    assert payload["__typename"] != "OperationInfo" and me(second) is None
    assert rest("/auth/logout/", third, "post") == 204 and me(third) is None
    assert me(first) == {"username": "alice"}
    graphql("mutation { logoutAll { __typename } }", first)
    assert me(first) is None
    assert not AuthToken.objects.using("default").exists()


def test_refresh_and_rotation_work_on_the_primary(user):
    token = tokens.issue_token(user).token
    assert me(token)
    response = DjangoClient().put("/auth/token/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    rotated = response.json()["token"]
    assert me(token) is None and me(rotated) == {"username": "alice"}
    assert rest("/auth/refresh/", rotated, "post") == 200


def test_a_password_change_revokes_tokens_the_replica_does_not_have(user):
    token = tokens.issue_token(user).token
    assert me(token)
    user.set_password("another " + PASSWORD)
    user.save()
    assert me(token) is None
    assert not AuthToken.objects.using("default").exists()


def test_a_token_issued_on_a_session_finds_it_on_the_primary(user):
    """``issue_token(session=...)`` (an API key issued through a session) checks the session still lives."""
    session = tokens.issue_token(user).instance
    assert tokens.issue_token(user, session=session).instance.pk != session.pk
