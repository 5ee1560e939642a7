"""Parity: every scenario through GraphQL (sync and async views) and REST, same outcome.

Each adapter below turns a response into ``"ok"`` or the error code a client
would read from it (GraphQL: the ``OperationInfo`` / ``extensions`` code; REST:
the status and DRF message), so one expected outcome serves all three.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from gql_authtoken import services

from .conftest import LOGIN, PASSWORD, GraphQLClient, operation_code

REST_CODES = {
    (400, "Unable to log in with provided credentials."): "invalid_credentials",
    (400, "User account is disabled."): "inactive_user",
    (400, "Unknown client."): "unknown_client",
    (401, "Authentication credentials were not provided."): "not_authenticated",
    (401, "Invalid token."): "invalid_token",
    (401, "Token has expired."): "token_expired",
    (404, "Session not found."): "session_not_found",
}


class GraphQLAdapter:
    def __init__(self, kind):
        self.gql = GraphQLClient(kind)

    def login(self, username, password, client=None):
        result = self.gql(LOGIN, {"username": username, "password": password, "client": client})["data"]["login"]
        return ("ok", result["token"]) if result["__typename"] == "LoginResult" else (operation_code(result), None)

    def _mutate(self, field, fragment, token):
        query = "mutation { %s { __typename ... on %s ... on OperationInfo { messages { code } } } }"
        result = self.gql(query % (field, fragment), token=token)["data"][field.split("(")[0]]
        return result, operation_code(result) or "ok"

    def logout(self, token):
        return self._mutate("logout", "LogoutResult { revokedSessions }", token)[1]

    def logout_all(self, token):
        return self._mutate("logoutAll", "LogoutResult { revokedSessions }", token)[1]

    def refresh(self, token):
        return self._mutate("refresh", "RefreshResult { expiry }", token)[1]

    def rotate(self, token):
        result, code = self._mutate("refresh(rotate: true)", "RefreshResult { token }", token)
        return code, result.get("token")

    def revoke_session(self, token, session_id):
        return self._mutate(f'revokeSession(id: "{session_id}")', "LogoutResult { revokedSessions }", token)[1]

    def check(self, token):
        result = self.gql("{ sessions { id } }", token=token)
        return result["errors"][0]["extensions"]["code"] if result.get("errors") else "ok"


class RestAdapter:
    def __init__(self):
        self.api = APIClient()

    def _call(self, method, path, token=None, data=None):
        self.api.credentials(**({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))
        response = getattr(self.api, method)(path, data, format="json")
        if response.status_code < 300:
            return "ok", (response.json() if response.content else None)
        body = response.json()
        message = body.get("detail") or (body.get("non_field_errors") or body.get("client"))[0]
        return REST_CODES[(response.status_code, message)], None

    def login(self, username, password, client=None):
        data = {"username": username, "password": password, **({"client": client} if client else {})}
        code, body = self._call("post", "/auth/login/", data=data)
        return code, body and body["token"]

    def logout(self, token):
        return self._call("post", "/auth/logout/", token)[0]

    def logout_all(self, token):
        return self._call("post", "/auth/logoutall/", token)[0]

    def refresh(self, token):
        return self._call("post", "/auth/refresh/", token)[0]

    def rotate(self, token):
        code, body = self._call("put", "/auth/token/", token)
        return code, body and body["token"]

    def revoke_session(self, token, session_id):
        return self._call("delete", f"/auth/sessions/{session_id}/", token)[0]

    def check(self, token):
        return self._call("get", "/auth/token/", token)[0]


@pytest.fixture(params=["graphql-sync", "graphql-async", "rest"])
def adapter(request):
    return RestAdapter() if request.param == "rest" else GraphQLAdapter(request.param.split("-")[1])


def test_login_ok(adapter, user):
    code, token = adapter.login("alice", PASSWORD)
    assert code == "ok" and adapter.check(token) == "ok"


def test_login_bad_password(adapter, user):
    assert adapter.login("alice", "wrong") == ("invalid_credentials", None)


def test_login_unknown_user(adapter, user):
    assert adapter.login("mallory", PASSWORD) == ("invalid_credentials", None)


def test_login_inactive_user(adapter, user):
    user.is_active = False
    user.save()
    assert adapter.login("alice", PASSWORD) == ("inactive_user", None)


def test_login_unknown_client(adapter, user, clients):
    assert adapter.login("alice", PASSWORD, client="nope") == ("unknown_client", None)
    assert adapter.login("alice", PASSWORD, client="web")[0] == "ok"


def test_logout(adapter, user, login_token):
    other = services.issue_token(user).token
    assert adapter.logout(login_token) == "ok"
    assert adapter.check(login_token) == "invalid_token"
    assert adapter.check(other) == "ok"


def test_logout_all(adapter, user, other_user, login_token):
    other = services.issue_token(user).token
    bob = services.issue_token(other_user).token
    assert adapter.logout_all(login_token) == "ok"
    assert [adapter.check(t) for t in (login_token, other, bob)] == ["invalid_token", "invalid_token", "ok"]


def test_refresh(adapter, user, clients, monkeypatch):
    issued = services.issue_token(user, client=clients["web"])
    later = services.now() + timedelta(hours=1)
    monkeypatch.setattr(services, "now", lambda: later)
    assert adapter.refresh(issued.token) == "ok"
    issued.instance.refresh_from_db()
    assert issued.instance.expiry == later + timedelta(hours=2)


def test_rotate(adapter, user, login_token):
    code, new = adapter.rotate(login_token)
    assert code == "ok" and new != login_token
    assert adapter.check(login_token) == "invalid_token"
    assert adapter.check(new) == "ok"


def test_expired_token(adapter, user, login_token, monkeypatch):
    later = services.now() + timedelta(days=2)
    monkeypatch.setattr(services, "now", lambda: later)
    assert adapter.refresh(login_token) == "token_expired"
    assert adapter.refresh(login_token) == "invalid_token"


def test_revoked_token(adapter, user, login_token):
    services.revoke_all_tokens(user)
    for action in (adapter.check, adapter.logout, adapter.logout_all, adapter.refresh):
        assert action(login_token) == "invalid_token"


def test_no_token(adapter, user):
    assert adapter.logout(None) == "not_authenticated"
    assert adapter.check(None) == "not_authenticated"


def test_revoke_other_session(adapter, user, login_token):
    other = services.issue_token(user)
    assert adapter.revoke_session(login_token, other.instance.pk) == "ok"
    assert adapter.check(other.token) == "invalid_token"
    assert adapter.check(login_token) == "ok"


def test_revoke_someone_elses_session(adapter, user, other_user, login_token):
    theirs = services.issue_token(other_user)
    assert adapter.revoke_session(login_token, theirs.instance.pk) == "session_not_found"
    assert adapter.check(theirs.token) == "ok"
