"""The REST adapter: endpoints, DRF-compatible headers and messages, client permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from gql_authtoken import clock, crypto, tokens
from gql_authtoken.models import AuthToken

from .conftest import PASSWORD


@pytest.fixture
def api():
    return APIClient()


def with_token(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_login_json_and_form(api, user):
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"token", "expiry"}
    token = response.json()["token"]
    assert AuthToken.objects.get().digest == crypto.hash_token(token)
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert AuthToken.objects.count() == 2


def test_login_expiry_is_formatted_like_drf(api, user):
    expiry = api.post("/auth/login/", {"username": "alice", "password": PASSWORD}).json()["expiry"]
    assert expiry == AuthToken.objects.get().expiry.isoformat().replace("+00:00", "Z")


@override_settings(GQL_AUTHTOKEN={"EXPIRY_DATETIME_FORMAT": "%Y-%m-%d"})
def test_expiry_format_setting(api, user):
    expiry = api.post("/auth/login/", {"username": "alice", "password": PASSWORD}).json()["expiry"]
    assert expiry == AuthToken.objects.get().expiry.strftime("%Y-%m-%d")


@override_settings(GQL_AUTHTOKEN={"USER_SERIALIZER": "tests.serializers.UserSerializer"})
def test_login_includes_user_with_user_serializer(api, user):
    data = api.post("/auth/login/", {"username": "alice", "password": PASSWORD}).json()
    assert data["user"] == {"username": "alice", "email": "alice@example.com"}


def test_bad_credentials(api, user):
    response = api.post("/auth/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    response = api.post("/auth/login/", {"username": "alice"})
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}
    assert not AuthToken.objects.exists()


def test_unknown_client(api, user, clients):
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "nope"})
    assert response.status_code == 400
    assert response.json() == {"client": ["Unknown client."]}
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "web"})
    assert response.status_code == 200
    assert AuthToken.objects.get().client == clients["web"]


def test_login_ignores_a_stale_token_header(api, user):
    with_token(api, "stale")
    assert api.post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("method", ["post", "delete"])
def test_logout(api, user, login_token, method):
    with_token(api, login_token)
    assert getattr(api, method)("/auth/logout/").status_code == 204
    response = api.get("/auth/token/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert response["WWW-Authenticate"] == "Token"


def test_logoutall(api, user, other_user, login_token):
    tokens.issue_token(user)
    tokens.issue_token(other_user)
    assert with_token(api, login_token).post("/auth/logoutall/").status_code == 204
    assert AuthToken.objects.filter(user=user).count() == 0
    assert AuthToken.objects.filter(user=other_user).count() == 1


def test_refresh(api, user, clients, monkeypatch):
    issued = tokens.issue_token(user, client=clients["web"])
    later = clock.now() + timedelta(minutes=30)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = with_token(api, issued.token).post("/auth/refresh/")
    assert response.status_code == 200
    issued.instance.refresh_from_db()
    assert issued.instance.expiry == later + timedelta(hours=2)
    assert response.json()["expiry"] == issued.instance.expiry.isoformat().replace("+00:00", "Z")


def test_token_check_and_rotate(api, user, login_token):
    with_token(api, login_token)
    assert api.get("/auth/token/").status_code == 200
    response = api.put("/auth/token/")
    assert response.status_code == 200
    new = response.json()["token"]
    assert new != login_token
    assert api.get("/auth/token/").status_code == 401
    assert with_token(api, new).get("/auth/token/").status_code == 200


def test_sessions_and_revoke(api, user, other_user, clients, login_token):
    web = tokens.issue_token(user, client=clients["web"])
    theirs = tokens.issue_token(other_user)
    with_token(api, login_token)
    sessions = api.get("/auth/sessions/").json()
    assert [s["client"] for s in sessions] == ["web", None]
    assert set(sessions[0]) == {"id", "client", "created", "expiry", "last_used", "user_agent",
                                "ip_address", "is_current", "has_expired", "expires_in_str"}
    assert (sessions[0]["has_expired"], sessions[0]["expires_in_str"]) == (False, "2\xa0hours")  # the web TTL
    assert [s["is_current"] for s in sessions] == [False, True]
    assert api.delete(f"/auth/sessions/{theirs.instance.pk}/").status_code == 404
    assert api.delete("/auth/sessions/x/").status_code == 404
    assert api.delete(f"/auth/sessions/{web.instance.pk}/").status_code == 204
    assert with_token(api, web.token).get("/auth/token/").status_code == 401


def test_expired_token_says_so_once(transactional_db, api, user, login_token, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    with_token(api, login_token)
    response = api.get("/auth/token/")
    assert (response.status_code, response.json()) == (401, {"detail": "Token has expired."})
    assert api.get("/auth/token/").json() == {"detail": "Invalid token."}


def test_inactive_user_token(api, user, login_token):
    # A bulk update sends no signal, so the token row stays; the user check still refuses it.
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    response = with_token(api, login_token).get("/auth/token/")
    assert (response.status_code, response.json()) == (401, {"detail": "User inactive or deleted."})


def test_deactivation_through_save_deletes_the_tokens(api, user, login_token):
    user.is_active = False
    user.save()
    assert not AuthToken.objects.filter(user=user).exists()
    user.is_active = True
    user.save()
    response = with_token(api, login_token).get("/auth/token/")
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Token", "Invalid token header. No credentials provided."),
        ("token a b", "Invalid token header. Token string should not contain spaces."),
        ("Token \x01abc", "Invalid token header. Token string should not contain invalid characters."),
        ("Token \xe9t\xe9", "Invalid token header. Token string should not contain invalid characters."),
        ("Bearer unknown", "Invalid token."),
        ("TOKEN unknown", "Invalid token."),
        ("Token " + "a" * 5000, "Invalid token."),
    ],
)
def test_malformed_headers_are_401_with_drf_messages(api, db, header, detail):
    response = api.get("/auth/token/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["", "Basic abc", "Tokenabc"])
def test_other_schemes_are_not_ours(api, db, header):
    response = api.get("/auth/token/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_bearer_keyword_and_case_insensitive_match(api, user, login_token):
    assert api.get("/auth/token/", HTTP_AUTHORIZATION=f"Bearer {login_token}").status_code == 200
    assert api.get("/auth/token/", HTTP_AUTHORIZATION=f"tOkEn {login_token}").status_code == 200


@override_settings(GQL_AUTHTOKEN={"AUTH_HEADER_PREFIXES": ("JWT",)})
def test_header_prefixes_setting(api, user, login_token):
    assert api.get("/auth/token/", HTTP_AUTHORIZATION=f"JWT {login_token}").status_code == 200
    assert api.get("/auth/token/", HTTP_AUTHORIZATION=f"Token {login_token}").status_code == 401


@pytest.mark.parametrize("prefix", ["", "/session-first"])
def test_client_permissions(api, user, clients, prefix):
    """Also behind DRF's SessionAuthentication listed first, which takes the user the token
    middleware set and leaves request.auth None: the rules read the request's token all the same."""
    web = tokens.issue_token(user, client=clients["web"]).token
    cli = tokens.issue_token(user, client=clients["cli"]).token
    plain = tokens.issue_token(user).token
    expected = {("/web-only/", web): 200, ("/web-only/", cli): 403, ("/web-only/", plain): 403,
                ("/not-cli/", web): 200, ("/not-cli/", cli): 403, ("/not-cli/", plain): 200}
    for (path, token), status in expected.items():
        assert with_token(api, token).get(prefix + path).status_code == status, (path, token)
    api.credentials()
    # DRF answers 401 only when the first class names a WWW-Authenticate scheme (SessionAuthentication none).
    assert api.get(prefix + "/web-only/").status_code == (403 if prefix else 401)
    refused = with_token(api, "not-a-token").get(prefix + "/web-only/")
    assert refused.status_code == (403 if prefix else 401) and refused.json() == {"detail": "Invalid token."}


def test_session_first_a_session_is_no_token_and_the_client_rate_holds(api, user, clients, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user_per_client": "2/min"}}
    issued = tokens.issue_token(user, client=clients["cli"])
    statuses = [with_token(api, issued.token).get("/session-first/throttled/") for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[0].json() == {"user": "alice", "token": issued.instance.pk}
    api.credentials()
    api.force_login(user)  # a session only
    session = [api.get("/session-first/throttled/") for _ in range(3)]
    assert [r.status_code for r in session] == [200] * 3 and session[0].json()["token"] is None
    assert api.get("/session-first/web-only/").status_code == 403  # a session is no client's token


def test_one_query_per_authenticated_request(api, user, login_token, django_assert_num_queries):
    with_token(api, login_token)
    with django_assert_num_queries(1):
        assert api.get("/auth/token/").status_code == 200
