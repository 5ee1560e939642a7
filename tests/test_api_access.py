"""API access keys: one per user for API_ACCESS_CLIENT_NAME, shown only when created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from gql_authtoken import crypto, sessions, tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken, Client

SETTINGS = {"API_ACCESS_CLIENT_NAME": "api", "API_ACCESS_EXCLUDE_FROM_SESSIONS": True}


@pytest.fixture
def api(user, login_token, settings):
    settings.GQL_AUTHTOKEN = SETTINGS
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {login_token}")
    return client


@pytest.fixture
def api_client_row(db):
    return Client.objects.create(name="api", token_ttl=timedelta(days=365))


def test_create_show_replace_and_delete(api, api_client_row, user):
    assert api.get("/auth/apiaccess/").status_code == 404
    created = api.post("/auth/apiaccess/")
    assert created.status_code == 201 and set(created.json()) == {"token", "expiry"}
    first = created.json()["token"]
    key = AuthToken.objects.get(client=api_client_row)
    assert key.digest == crypto.hash_token(first) and key.expiry - key.created == timedelta(days=365)
    shown = api.get("/auth/apiaccess/").json()
    assert shown["client"] == "api" and shown["id"] == str(key.pk) and "token" not in shown
    assert first not in str(shown)
    second = api.post("/auth/apiaccess/").json()["token"]
    assert AuthToken.objects.filter(client=api_client_row).count() == 1
    assert APIClient().get("/auth/token/", HTTP_AUTHORIZATION=f"Token {first}").status_code == 401
    assert APIClient().get("/auth/token/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 200
    assert api.delete("/auth/apiaccess/").status_code == 204
    assert APIClient().get("/auth/token/", HTTP_AUTHORIZATION=f"Token {second}").status_code == 401
    assert api.get("/auth/apiaccess/").status_code == 404
    assert api.delete("/auth/apiaccess/").status_code == 204


def test_missing_client_row_is_404_and_the_log_says_why(api, caplog):
    for method in ("get", "post", "delete"):
        response = getattr(api, method)("/auth/apiaccess/")
        assert response.status_code == 404 and "API_ACCESS" not in response.content.decode()  # no settings named
    assert not AuthToken.objects.filter(client__name="api").exists()
    assert "no Client is named 'api' (GQL_AUTHTOKEN['API_ACCESS_CLIENT_NAME'])" in caplog.text


def test_unset_setting_is_404_and_the_log_says_why(api, api_client_row, settings, caplog):
    settings.GQL_AUTHTOKEN = {}
    assert api.post("/auth/apiaccess/").status_code == 404
    assert "GQL_AUTHTOKEN['API_ACCESS_CLIENT_NAME'] is not set" in caplog.text


def test_needs_authentication(api_client_row, settings):
    settings.GQL_AUTHTOKEN = SETTINGS
    assert APIClient().post("/auth/apiaccess/").status_code == 401


def test_keys_are_left_out_of_sessions_when_asked(api, api_client_row, user, login_token, settings):
    api.post("/auth/apiaccess/")
    assert [s["client"] for s in api.get("/auth/sessions/").json()] == [None]
    settings.GQL_AUTHTOKEN = {**SETTINGS, "API_ACCESS_EXCLUDE_FROM_SESSIONS": False}
    assert [s["client"] for s in api.get("/auth/sessions/").json()] == ["api", None]


def test_keys_are_per_user(api, api_client_row, user, other_user):
    api.post("/auth/apiaccess/")
    sessions.issue_api_key(other_user)
    assert AuthToken.objects.filter(client=api_client_row).count() == 2
    assert api.delete("/auth/apiaccess/").status_code == 204
    assert AuthToken.objects.filter(client=api_client_row, user=other_user).count() == 1


def test_a_request_with_the_api_key_replaces_it(settings, user, api_client_row):
    """As a rotation: the answer carries the new key, and the old one (the caller's) stops working."""
    settings.GQL_AUTHTOKEN = SETTINGS
    key = sessions.issue_api_key(user).token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post("/auth/apiaccess/")
    assert response.status_code == 201, response.content
    new_key = response.json()["token"]
    assert tokens.authenticate_token(new_key).client.name == "api"
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(key)


@pytest.mark.parametrize("through", ["graphql", "rest"])
def test_a_login_naming_the_api_client_mints_no_key(api_client_row, user, settings, through):
    """Keys come from apiaccess/ only: one per user, replacing the last. A login naming the API
    client would mint more, hidden from the sessions list with API_ACCESS_EXCLUDE_FROM_SESSIONS."""
    from django.test import Client as DjangoClient

    from .conftest import LOGIN, PASSWORD, GraphQLClient, operation_code

    settings.GQL_AUTHTOKEN = SETTINGS
    if through == "graphql":
        payload = GraphQLClient("sync")(LOGIN, {"username": "alice", "password": PASSWORD, "client": "api"})
        assert operation_code(payload["data"]["login"]) == "unknown_client"
    else:
        response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "api"})
        assert (response.status_code, response.json()) == (400, {"client": ["Unknown client."]})
    assert not AuthToken.objects.filter(client=api_client_row).exists()
