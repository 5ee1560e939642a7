"""What clients of the libraries we replace send, as their documentation shows it (API.md §6)."""

from __future__ import annotations

import json

import pytest
from django.test import Client as DjangoClient
from django.test import override_settings

from gql_authtoken import tokens
from gql_authtoken.models import AuthToken
from gql_authtoken.rest.views import LoginView

from .conftest import PASSWORD


def test_drf_advanced_token_logout_is_a_get_answered_by_a_blank_200(user, login_token):
    response = DjangoClient().get("/auth/logout/", headers={"Authorization": f"Token {login_token}"})
    assert (response.status_code, response.content) == (200, b"")
    assert not AuthToken.objects.exists()
    assert DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {login_token}"}).status_code == 401


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("body", ["form", "json"])
def test_durins_slashless_routes_are_answered_in_place(user, clients, settings, debug, body):
    settings.DEBUG = debug  # APPEND_SLASH cannot redirect a POST: a 500 in DEBUG, a lost body otherwise
    data = {"username": "alice", "password": PASSWORD, "client": "web"}
    kwargs = {"data": json.dumps(data), "content_type": "application/json"} if body == "json" else {"data": data}
    response = DjangoClient().post("/auth/login", **kwargs)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    headers = {"Authorization": f"Token {token}"}
    sessions = DjangoClient().get("/auth/sessions", headers=headers)
    assert sessions.status_code == 200 and sessions.json()[0]["has_expired"] is False
    assert DjangoClient().post("/auth/refresh", headers=headers).status_code == 200
    session_id = sessions.json()[0]["id"]
    assert DjangoClient().delete(f"/auth/sessions/{session_id}", headers=headers).status_code == 204
    assert DjangoClient().get("/auth/token", headers=headers).status_code == 401


def test_a_session_without_expiry_is_na_in_durins_words(user, clients):
    token = tokens.issue_token(user, client=clients["cli"]).token
    [session] = DjangoClient().get("/auth/sessions/", headers={"Authorization": f"Token {token}"}).json()
    assert (session["expiry"], session["has_expired"], session["expires_in_str"]) == (None, False, "N/A")


class DurinStyleLoginView(LoginView):
    """A durin ``LoginView`` subclass: ``get_post_response_data(request, token_obj)``."""

    def get_post_response_data(self, request, token_obj):
        return {"token": token_obj.token, "expiry": self.format_expiry_datetime(token_obj.expiry),
                "user": token_obj.user.get_username(), "client": token_obj.client.name,
                "session": token_obj.instance.pk}


urlpatterns = [__import__("django.urls").urls.path("login/", DurinStyleLoginView.as_view())]


@override_settings(ROOT_URLCONF=__name__)
def test_a_durin_login_view_subclass_keeps_working(user, clients):
    response = DjangoClient().post("/login/", {"username": "alice", "password": PASSWORD, "client": "web"})
    assert response.status_code == 200
    body = response.json()
    instance = AuthToken.objects.get()
    assert body["user"] == "alice" and body["client"] == "web" and body["session"] == instance.pk
    assert tokens.authenticate_token(body["token"]).pk == instance.pk


def test_durins_session_route_with_its_double_slash(user, clients):
    """durin's router serves a session at ``sessions//<id>``: what its clients were given."""
    token = tokens.issue_token(user, client=clients["web"]).token
    other = tokens.issue_token(user, client=clients["cli"])
    headers = {"Authorization": f"Token {token}"}
    assert DjangoClient().delete(f"/auth/sessions//{other.instance.pk}", headers=headers).status_code == 204
    assert DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {other.token}"}).status_code == 401
    assert DjangoClient().delete("/auth/sessions//987654", headers=headers).status_code == 404
