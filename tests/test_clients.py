"""Client settings are validated where they are written and never take a client down."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as DjangoClient

from gql_authtoken import clock, sessions, tokens
from gql_authtoken.models import AuthToken, Client

from .conftest import PASSWORD

BAD_RATES = ["abc", "10/", "10/fortnight", "0/min", "-5/hour", "/min", "ten/min"]
BAD_TTLS = ["0", "-1 00:00:00", "3000000 00:00:00"]


@pytest.mark.parametrize("rate", BAD_RATES)
def test_the_admin_refuses_bad_rates(admin_client, rate):
    response = admin_client.post("/admin/gql_authtoken/client/add/", {"name": "ios", "throttle_rate": rate})
    assert response.status_code == 200 and b"Enter a rate such as" in response.content
    assert not Client.objects.exists()


@pytest.mark.parametrize("ttl", BAD_TTLS)
def test_the_admin_refuses_lifetimes_that_kill_or_overflow(admin_client, ttl):
    response = admin_client.post("/admin/gql_authtoken/client/add/", {"name": "ios", "token_ttl": ttl})
    assert response.status_code == 200 and b"Enter a lifetime above 0" in response.content
    assert not Client.objects.exists()


@pytest.mark.parametrize("options", [["--ttl", "P3000000D"], ["--ttl", "0"], ["--throttle-rate", "10/fortnight"]])
def test_create_client_refuses_bad_values(db, options):
    with pytest.raises(CommandError):
        call_command("create_client", "ios", *options)
    assert not Client.objects.exists()


@pytest.fixture
def broken_client(db):
    """A client whose values were written past the validators (SQL, ``update()``)."""
    Client.objects.create(name="ios", token_ttl=timedelta(hours=1), throttle_rate="5/min")
    Client.objects.filter(name="ios").update(throttle_rate="10/fortnight", token_ttl=timedelta(days=3000000))
    return Client.objects.get(name="ios")


def test_a_bad_stored_value_is_logged_and_ignored(user, broken_client, caplog):
    caplog.set_level(logging.WARNING, logger="gql_authtoken")
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "ios"})
    assert response.status_code == 200
    token = response.json()["token"]
    expiry = AuthToken.objects.get().expiry
    assert expiry is not None and expiry - clock.now() <= timedelta(days=1)  # DEFAULT_TOKEN_TTL
    for _ in range(3):
        assert DjangoClient().get("/auth/sessions/", headers={"Authorization": f"Token {token}"}).status_code == 200
    body = DjangoClient().post("/graphql/sync/", {"query": "{ notCli }"}, content_type="application/json",
                               headers={"Authorization": f"Token {token}"}).json()
    assert body == {"data": {"notCli": "not cli"}}
    assert "invalid throttle_rate" in caplog.text and "invalid token_ttl" in caplog.text


def test_an_api_key_left_out_of_sessions_can_still_be_revoked_by_its_id(user, settings):
    settings.GQL_AUTHTOKEN = {"API_ACCESS_CLIENT_NAME": "api", "API_ACCESS_EXCLUDE_FROM_SESSIONS": True}
    Client.objects.create(name="api", token_ttl=None)
    session = tokens.issue_token(user).token
    key = sessions.issue_api_key(user)
    assert [s.client for s in sessions.list_sessions(user)] == [None]
    response = DjangoClient().delete(f"/auth/sessions/{key.instance.pk}/",
                                     headers={"Authorization": f"Token {session}"})
    assert response.status_code == 204
    assert DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {key.token}"}).status_code == 401
