"""API.md §11 over HTTP: the token in an HttpOnly cookie, through GraphQL (sync, async) and REST.

A ``Browser`` is a Django test client that keeps cookies and enforces CSRF as a
browser's requests meet it; the app sends ``X-CSRFToken`` from ``csrf/``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import AsyncClient
from django.test import Client as DjangoClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gql_authtoken import clock, tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken

from .conftest import PASSWORD

COOKIE = "authtoken"
LOGIN = """mutation Login($client: String) {
  login(username: "alice", password: "%s", client: $client) {
    __typename ... on LoginResult { token expiry session { client isCurrent } }
    ... on OperationInfo { messages { code } }
  }
}""" % PASSWORD
ME = "{ me { username } currentSession { id client isCurrent } }"


class Browser:
    """A browser at the site: cookies kept between requests, CSRF enforced (Django's test client
    skips the check unless told). ``via``: ``graphql-sync``, ``graphql-async`` or ``rest``."""

    def __init__(self, via: str = "graphql-sync"):
        self.via = via
        self.asgi = via == "graphql-async"
        self.client: Any = AsyncClient(enforce_csrf_checks=True) if self.asgi else DjangoClient(
            enforce_csrf_checks=True)
        self.csrf: str | None = None

    @property
    def cookie(self) -> str | None:
        morsel = self.client.cookies.get(COOKIE)
        return morsel.value or None if morsel is not None else None

    def request(self, method: str, path: str, body: Any = None, *, csrf: bool = True, **headers: str) -> Any:
        if csrf and self.csrf:
            headers["X-CSRFToken"] = self.csrf
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        call = getattr(self.client, method.lower())
        return async_to_sync(call)(path, **kwargs) if self.asgi else call(path, **kwargs)

    def get_csrf(self) -> str:
        response = self.request("GET", "/auth/csrf/")
        assert response.status_code == 200
        self.csrf = response.json()["csrfToken"]
        return self.csrf

    def graphql(self, query: str, variables: dict | None = None, **kwargs: Any) -> Any:
        path = "/graphql/async/" if self.asgi else "/graphql/sync/"
        return self.request("POST", path, {"query": query, "variables": variables or {}}, **kwargs)

    # The same operations through the adapter under test.

    def login(self, client: str | None = "web") -> tuple[Any, str | None]:
        """The response and the token its body carries (None: none)."""
        if self.via == "rest":
            response = self.request("POST", "/auth/login/", {"username": "alice", "password": PASSWORD,
                                                             "client": client})
            assert response.status_code == 200, response.content
            return response, response.json().get("token")
        response = self.graphql(LOGIN, {"client": client})
        assert response.status_code == 200, response.content
        result = response.json()["data"]["login"]
        assert result["__typename"] == "LoginResult", result
        return response, result["token"]

    def whoami(self) -> str | None:
        """The username the site sees (None: anonymous or refused)."""
        if self.via == "rest":
            response = self.request("GET", "/optional/")  # CachedTokenAuthentication, anonymous allowed
            return response.json()["user"] if response.status_code == 200 else None
        me = self.graphql(ME).json()["data"]["me"]
        return me and me["username"]

    def logout(self, everywhere: bool = False) -> Any:
        if self.via == "rest":
            return self.request("POST", "/auth/logoutall/" if everywhere else "/auth/logout/")
        field = "logoutAll" if everywhere else "logout"
        return self.graphql("mutation { %s { __typename ... on LogoutResult { revokedSessions } } }" % field)

    def rotate(self) -> tuple[Any, str | None]:
        if self.via == "rest":
            response = self.request("PUT", "/auth/token/")
            assert response.status_code == 200, response.content
            return response, response.json().get("token")
        response = self.graphql("mutation { refresh(rotate: true) { __typename ... on RefreshResult { token } } }")
        result = response.json()["data"]["refresh"]
        assert result["__typename"] == "RefreshResult", result
        return response, result["token"]


@pytest.fixture
def cookie_on(settings):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"]}}


@pytest.fixture(params=["graphql-sync", "graphql-async", "rest"])
def browser(request, cookie_on, user, clients) -> Browser:
    browser = Browser(request.param)
    browser.get_csrf()
    return browser


def deleted(response) -> bool:
    morsel = response.cookies.get(COOKIE)
    return morsel is not None and morsel.value == "" and morsel["max-age"] == 0


def test_login_sets_an_httponly_cookie_that_expires_with_the_token_and_no_token_in_the_body(browser):
    response, body_token = browser.login()
    assert body_token is None
    morsel = response.cookies[COOKIE]
    token = AuthToken.objects.get()
    assert token.client.name == "web"
    assert tokens.authenticate_token(morsel.value) == token
    assert morsel["httponly"] and morsel["secure"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert morsel["domain"] == ""
    assert 7200 - 5 <= morsel["max-age"] <= 7200  # the web client's TTL: two hours
    assert morsel["expires"]
    if browser.via != "rest":
        session = response.json()["data"]["login"]["session"]
        assert session == {"client": "web", "isCurrent": True}
    assert browser.whoami() == "alice"


def test_other_clients_get_the_token_in_the_body_and_no_cookie(browser):
    response, body_token = browser.login("cli")
    assert body_token and COOKIE not in response.cookies
    response, body_token = browser.login(None)
    assert body_token and COOKIE not in response.cookies


def test_a_token_that_never_expires_is_a_session_cookie(settings, user, clients):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["cli"]}}  # cli tokens never expire
    browser = Browser()
    browser.get_csrf()
    response, body_token = browser.login("cli")
    morsel = response.cookies[COOKIE]
    assert body_token is None and morsel.value
    assert morsel["max-age"] == "" and morsel["expires"] == ""


def test_the_cookie_expires_at_max_token_lifetime_when_that_comes_first(settings, user, clients):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"]}, "MAX_TOKEN_LIFETIME": timedelta(minutes=10)}
    browser = Browser()
    browser.get_csrf()
    response, _ = browser.login()
    assert 600 - 5 <= response.cookies[COOKIE]["max-age"] <= 600


def test_the_cookie_attributes_come_from_the_setting(settings, user, clients):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "NAME": "sid", "SECURE": False,
                                              "SAMESITE": "Strict", "DOMAIN": "example.com", "PATH": "/api/"}}
    browser = Browser()
    browser.get_csrf()
    response, _ = browser.login()
    morsel = response.cookies["sid"]
    assert morsel["httponly"] and not morsel["secure"]
    assert (morsel["samesite"], morsel["domain"], morsel["path"]) == ("Strict", "example.com", "/api/")
    assert COOKIE not in response.cookies


def test_without_the_setting_web_logins_are_unchanged(user, clients):
    browser = Browser()
    response, body_token = browser.login()
    assert body_token and COOKIE not in response.cookies


def test_the_cookie_authenticates_graphql_and_rest_and_shows_its_session(browser):
    browser.login()
    session_id = str(AuthToken.objects.get().pk)
    rest = Browser("rest")
    rest.client.cookies = browser.client.cookies
    rest.csrf = browser.csrf
    # REST: CachedTokenAuthentication, TokenAuthentication (web-only/), the package's own views.
    assert rest.request("GET", "/cached/").json() == {"user": "alice", "session": int(session_id)}
    assert rest.request("GET", "/web-only/").json() == {"ok": True}
    sessions = rest.request("GET", "/auth/sessions/").json()
    assert [(s["id"], s["client"], s["is_current"]) for s in sessions] == [(session_id, "web", True)]
    assert rest.request("GET", "/auth/token/").status_code == 200
    assert rest.request("POST", "/auth/refresh/").status_code == 200
    # GraphQL, sync and async: me, currentSession, sessions.
    for kind in ("graphql-sync", "graphql-async"):
        graphql = Browser(kind)
        graphql.client.cookies = browser.client.cookies
        graphql.csrf = browser.csrf
        data = graphql.graphql("{ me { username } currentSession { id client isCurrent } "
                               "sessions { id isCurrent } }").json()["data"]
        assert data["me"] == {"username": "alice"}
        assert data["currentSession"] == {"id": session_id, "client": "web", "isCurrent": True}
        assert data["sessions"] == [{"id": session_id, "isCurrent": True}]
    # Plain Django views, sync and async.
    assert rest.request("GET", "/whoami/").json() == {"user": "alice", "auth": int(session_id)}
    assert rest.request("GET", "/awhoami/").json() == {"user": "alice", "auth": int(session_id)}


def test_unsafe_requests_by_cookie_without_the_csrf_token_are_refused(browser):
    browser.login()
    csrf, browser.csrf = browser.csrf, None
    if browser.via == "rest":
        for path in ("/auth/logout/", "/auth/logoutall/", "/auth/refresh/"):
            response = browser.request("POST", path)
            assert response.status_code == 403
            assert response.json()["detail"].startswith("CSRF Failed:")
        assert browser.request("PUT", "/auth/token/").status_code == 403
    else:
        response = browser.graphql("mutation { logoutAll { __typename } }")
        assert response.status_code == 403  # Django's CSRF check, before GraphQL runs
        response = browser.graphql("{ me { username } }")  # a query over POST as well
        assert response.status_code == 403
    # A wrong token is no better than none.
    browser.csrf = "x" * 32
    assert browser.logout().status_code == 403
    assert AuthToken.objects.count() == 1 and not deleted(response)
    browser.csrf = csrf
    assert browser.whoami() == "alice"


def test_safe_requests_by_cookie_need_no_csrf_token(cookie_on, user, clients):
    browser = Browser("rest")
    browser.get_csrf()
    browser.login()
    browser.csrf = None
    assert browser.request("GET", "/auth/token/").status_code == 200
    assert browser.request("GET", "/cached/").json()["user"] == "alice"


def test_a_token_header_wins_over_the_cookie(browser, other_user):
    browser.login()
    bob = tokens.issue_token(other_user).token
    if browser.via == "rest":
        assert browser.request("GET", "/cached/", Authorization=f"Token {bob}").json()["user"] == "bob"
        response = browser.request("GET", "/cached/", Authorization="Token not-a-token")
        assert response.status_code == 401
    else:
        data = browser.graphql("{ me { username } }", Authorization=f"Token {bob}").json()
        assert data["data"]["me"] == {"username": "bob"}
        response = browser.graphql("{ me { username } }", Authorization="Token not-a-token")
        assert response.json()["data"]["me"] is None
    assert COOKIE not in response.cookies  # the invalid header's answer leaves the cookie alone
    assert browser.whoami() == "alice"


def test_a_header_request_with_the_cookie_needs_no_csrf_token(browser):
    browser.login()
    browser.csrf = None
    token = tokens.issue_token(AuthToken.objects.get().user).token
    if browser.via == "rest":
        response = browser.request("POST", "/auth/logout/", Authorization=f"Token {token}")
        assert response.status_code == 204
    else:
        response = browser.graphql("mutation { logout { __typename } }", Authorization=f"Token {token}")
        assert response.status_code == 200


@pytest.mark.parametrize("everywhere", [False, True])
def test_logout_revokes_the_token_and_deletes_the_cookie(browser, everywhere):
    browser.login()
    token = browser.cookie
    response = browser.logout(everywhere=everywhere)
    assert response.status_code in (200, 204), response.content
    assert deleted(response)
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] and morsel["secure"] and morsel["path"] == "/" and morsel["samesite"] == "Lax"
    assert not AuthToken.objects.exists()
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(token)
    assert browser.cookie is None and browser.whoami() is None


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_rest_logout_by_get_is_refused_for_the_cookie(cookie_on, user, clients, method):
    """A GET passes the CSRF check, so any site could log the user out with a link or an
    image: the cookie's session is not ended by GET (header clients keep drf_advanced_token's GET)."""
    browser = Browser("rest")
    browser.get_csrf()
    browser.login()
    response = browser.request(method, "/auth/logout/", csrf=False)
    assert response.status_code == 405 and COOKIE not in response.cookies
    assert AuthToken.objects.count() == 1 and browser.whoami() == "alice"
    assert browser.request("POST", "/auth/logout/").status_code == 204


def test_a_header_logout_leaves_a_cookie_of_another_session_alone(browser, login_token):
    """The cookie's session lives on when a header token of the same browser logs out."""
    browser.login()
    cookie_token = browser.cookie
    response = (browser.request("POST", "/auth/logout/", Authorization=f"Token {login_token}")
                if browser.via == "rest" else
                browser.graphql("mutation { logout { __typename } }", Authorization=f"Token {login_token}"))
    assert response.status_code in (200, 204) and COOKIE not in response.cookies
    assert browser.cookie == cookie_token and browser.whoami() == "alice"
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(login_token)


def test_refresh_sets_the_cookie_again_with_the_new_expiry(browser, monkeypatch):
    browser.login()
    cookie_token = browser.cookie
    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    response = (browser.request("POST", "/auth/refresh/") if browser.via == "rest" else
                browser.graphql("mutation { refresh { __typename ... on RefreshResult { expiry token } } }"))
    assert response.status_code == 200, response.content
    morsel = response.cookies[COOKIE]
    assert morsel.value == cookie_token and morsel["httponly"]
    assert 7200 - 5 <= morsel["max-age"] <= 7200  # two hours from the refresh, not from the login
    assert AuthToken.objects.get().expiry == later + timedelta(hours=2)
    if browser.via != "rest":
        assert response.json()["data"]["refresh"]["token"] is None


def test_refresh_by_header_sets_no_cookie(browser, user, clients):
    """A web token sent in a header is refreshed in place; no cookie appears."""
    token = tokens.issue_token(user, client=clients["web"]).token
    fresh = Browser(browser.via)
    response = (fresh.request("POST", "/auth/refresh/", Authorization=f"Token {token}") if browser.via == "rest"
                else fresh.graphql("mutation { refresh { __typename } }", Authorization=f"Token {token}"))
    assert response.status_code == 200 and COOKIE not in response.cookies


def test_a_cookie_session_cannot_create_an_api_key(settings, user, clients):
    """An API key is a bearer token that outlives the cookie session: a script on the page must
    not be able to mint one (API.md §11: the page never holds a token)."""
    from gql_authtoken.models import Client as ClientRow

    ClientRow.objects.create(name="api", token_ttl=None)
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"]}, "API_ACCESS_CLIENT_NAME": "api"}
    browser = Browser("rest")
    browser.get_csrf()
    browser.login()
    response = browser.request("POST", "/auth/apiaccess/")
    assert response.status_code == 403, response.content
    assert not AuthToken.objects.filter(client__name="api").exists()
    _, token = browser.login("cli")
    response = Browser("rest").request("POST", "/auth/apiaccess/", Authorization=f"Token {token}")
    assert response.status_code == 201 and response.json()["token"]


def test_logout_with_a_header_and_no_cookie_sets_no_cookie(browser, login_token):
    fresh = Browser(browser.via)
    response = (fresh.request("POST", "/auth/logout/", Authorization=f"Token {login_token}")
                if browser.via == "rest" else
                fresh.graphql("mutation { logout { __typename } }", Authorization=f"Token {login_token}"))
    assert response.status_code in (200, 204)
    assert COOKIE not in response.cookies


@pytest.mark.parametrize("cookie_value", ["not-a-token", "x" * 5000, "revoked"])
def test_any_answer_to_an_invalid_cookie_deletes_it(browser, cookie_value):
    if cookie_value == "revoked":
        browser.login()
        AuthToken.objects.all().delete()
    else:
        browser.client.cookies[COOKIE] = cookie_value
    if browser.via == "rest":
        response = browser.request("GET", "/auth/token/")
        assert response.status_code == 401
        assert deleted(response)
        browser.client.cookies[COOKIE] = cookie_value
        response = browser.request("GET", "/auth/csrf/")  # a view that never asks who the user is
        assert response.status_code == 200 and deleted(response)
    else:
        response = browser.graphql("{ me { username } }")
        assert response.json()["data"]["me"] is None and deleted(response)
        browser.client.cookies[COOKIE] = cookie_value
        response = browser.graphql("{ __typename }")
        assert response.status_code == 200 and deleted(response)
        browser.client.cookies[COOKIE] = cookie_value
        response = browser.graphql("{ sessions { id } }")
        assert response.json()["errors"][0]["extensions"]["code"] == "invalid_token" and deleted(response)


def test_an_expired_cookie_token_answers_token_expired_and_is_deleted(transactional_db, browser, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    browser.login()
    token = AuthToken.objects.get()
    monkeypatch.setattr(clock, "now", lambda: token.expiry + timedelta(seconds=1))
    if browser.via == "rest":
        response = browser.request("GET", "/auth/token/")
        assert (response.status_code, response.json()["detail"]) == (401, "Token has expired.")
    else:
        response = browser.graphql("{ sessions { id } }")
        assert response.json()["errors"][0]["extensions"]["code"] == "token_expired"
    assert deleted(response)
    assert not AuthToken.objects.exists()


def test_a_forged_request_changes_nothing_and_keeps_a_live_cookie(browser):
    browser.login()
    before = AuthToken.objects.get()
    with CaptureQueriesContext(connection) as queries:
        browser.csrf, csrf = None, browser.csrf
        response = browser.logout()
        browser.csrf = csrf
    assert response.status_code == 403 and COOKIE not in response.cookies
    # Only read, to learn that the cookie is alive (a dead one would be deleted): nothing written.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT"]
    assert AuthToken.objects.get().last_used == before.last_used
    assert browser.whoami() == "alice"


def test_rotation_resets_the_cookie_and_the_old_token_stops_working(browser):
    browser.login()
    old = browser.cookie
    response, body_token = browser.rotate()
    assert body_token is None
    new = response.cookies[COOKIE].value
    assert new and new != old and response.cookies[COOKIE]["httponly"]
    assert 7200 - 5 <= response.cookies[COOKIE]["max-age"] <= 7200
    assert tokens.authenticate_token(new) == AuthToken.objects.get()
    assert browser.whoami() == "alice"
    browser.client.cookies[COOKIE] = old
    assert browser.whoami() is None


def test_rotating_a_token_of_another_client_answers_in_the_body(cookie_on, user, clients):
    browser = Browser()
    _, token = browser.login("cli")
    response = browser.graphql("mutation { refresh(rotate: true) { ... on RefreshResult { token } } }",
                               Authorization=f"Token {token}")
    assert response.json()["data"]["refresh"]["token"] and COOKIE not in response.cookies


def test_the_csrf_token_from_before_the_login_keeps_working(browser):
    before = browser.client.cookies["csrftoken"].value
    response, _ = browser.login()
    assert "csrftoken" not in response.cookies and browser.client.cookies["csrftoken"].value == before
    assert browser.logout().status_code in (200, 204)


def test_a_form_login_for_the_cookie_needs_the_csrf_token(cookie_on, user, clients):
    """A form can be posted from another site: without the check it could log the browser
    into the attacker's account (login CSRF)."""
    form = {"username": "alice", "password": PASSWORD, "client": "web"}
    client = DjangoClient(enforce_csrf_checks=True)
    response = client.post("/auth/login/", form)
    assert response.status_code == 403 and response.json()["detail"].startswith("CSRF Failed:")
    assert not AuthToken.objects.exists()
    token = client.get("/auth/csrf/").json()["csrfToken"]
    response = client.post("/auth/login/", form, headers={"X-CSRFToken": token})
    assert response.status_code == 200 and "token" not in response.json() and response.cookies[COOKIE].value
    # A form login of another client is unchanged: no CSRF token, the token in the body.
    response = DjangoClient(enforce_csrf_checks=True).post("/auth/login/", {**form, "client": "cli"})
    assert response.status_code == 200 and response.json()["token"]


def test_csrf_endpoint_sets_the_cookie_and_answers_the_token(db):
    assert reverse("gql_authtoken:csrf") == "/auth/csrf/"
    for path in ("/auth/csrf/", "/auth/csrf"):
        client = DjangoClient(enforce_csrf_checks=True)
        response = client.get(path)
        assert response.status_code == 200
        assert response.cookies["csrftoken"].value
        token = response.json()["csrfToken"]
        assert len(token) == 64
        assert "no-cache" in response["Cache-Control"]
    # The answered token passes Django's check on a session-cookie request.
    client.cookies["sessionid"] = "anything"
    assert client.post("/graphql/sync/", json.dumps({"query": "{ __typename }"}), content_type="application/json",
                       headers={"X-CSRFToken": token}).status_code == 200


def test_client_throttle_rate_counts_cookie_requests(browser, clients):
    clients["web"].throttle_rate = "2/min"
    clients["web"].save()
    browser.login()
    assert browser.whoami() == "alice"
    assert browser.whoami() == "alice"
    if browser.via == "rest":
        assert browser.request("GET", "/cached/").status_code == 200  # no client throttle on this view
        assert browser.request("GET", "/auth/sessions/").status_code == 200
        assert browser.request("GET", "/auth/sessions/").status_code == 200
        assert browser.request("GET", "/auth/sessions/").status_code == 429
    else:
        errors = browser.graphql("{ sessions { id } }").json()["errors"]
        assert errors[0]["extensions"]["code"] == "throttled"


def test_the_admin_ignores_the_cookie(cookie_on, clients, db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    token = tokens.issue_token(get_user_model().objects.get(username="root"), client=clients["web"]).token
    client = DjangoClient()
    client.cookies[COOKIE] = token
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert COOKIE not in response.cookies


@pytest.mark.parametrize(("value", "problem"), [
    ({"NAME": "authtoken"}, "CLIENTS must be a non-empty list"),
    ({"CLIENTS": "web"}, "CLIENTS must be a non-empty list"),
    ({"CLIENTS": []}, "CLIENTS must be a non-empty list"),
    ({"CLIENTS": ["web"], "COLOUR": 1}, "unknown key 'COLOUR'"),
    ({"CLIENTS": ["web"], "NAME": "a b"}, "NAME must be a cookie name"),
    ({"CLIENTS": ["web"], "NAME": "sessionid"}, "NAME must differ"),
    ({"CLIENTS": ["web"], "SECURE": "yes"}, "SECURE must be True or False"),
    ({"CLIENTS": ["web"], "SAMESITE": "lax-ish"}, "SAMESITE must be one of"),
    ({"CLIENTS": ["web"], "SAMESITE": "None", "SECURE": False}, "SAMESITE 'None' needs SECURE True"),
    ({"CLIENTS": ["web"], "DOMAIN": ""}, "DOMAIN must be"),
    ({"CLIENTS": ["web"], "PATH": "api/"}, "PATH must be"),
    ({"CLIENTS": ["web"], "NAME": "__Secure-token", "SECURE": False}, "needs SECURE True"),
    ({"CLIENTS": ["web"], "NAME": "__Host-token", "SECURE": False}, "needs SECURE True"),
    ({"CLIENTS": ["web"], "NAME": "__Host-token", "PATH": "/api/"}, "__Host- needs PATH '/' and DOMAIN None"),
    ({"CLIENTS": ["web"], "NAME": "__Host-token", "DOMAIN": "example.com"}, "__Host- needs PATH '/'"),
    (["web"], "must be a dict or None"),
])
def test_checks_refuse_a_bad_auth_cookie_setting(settings, value, problem):
    from gql_authtoken.checks import check_auth_cookie

    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": value}
    messages = check_auth_cookie()
    assert [m.id for m in messages] == ["gql_authtoken.E023"]
    assert problem in messages[0].msg
    with pytest.raises(SystemCheckError):
        call_command("check")


def test_checks_accept_good_auth_cookie_settings(settings):
    from gql_authtoken.checks import check_auth_cookie

    for value in (None, {"CLIENTS": ["web"]}, {"CLIENTS": ["web"], "NAME": "__Host-token"},
                  {"CLIENTS": ("web", "ios"), "NAME": "__Secure-token", "SECURE": True, "SAMESITE": "None",
                   "DOMAIN": "example.com", "PATH": "/api/"}):
        settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": value}
        assert check_auth_cookie() == []


def test_checks_need_csrf_middleware_and_warn_about_insecure_cookies_in_production(settings):
    from gql_authtoken.checks import check_auth_cookie

    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"]}}
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csrf" not in m]
    assert [m.id for m in check_auth_cookie()] == ["gql_authtoken.E024"]
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    settings.MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
    settings.DEBUG = False
    assert [m.id for m in check_auth_cookie()] == ["gql_authtoken.W006"]
    settings.DEBUG = True
    assert check_auth_cookie() == []


def test_a_database_check_names_cookie_clients_without_a_client_row(settings, clients):
    from django.core.checks import run_checks

    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web", "wbe"]}}
    [warning] = [m for m in run_checks(databases=["default"]) if m.id == "gql_authtoken.W009"]
    assert "'wbe'" in warning.msg and "'web'" not in warning.msg
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"]}}
    assert "gql_authtoken.W009" not in {m.id for m in run_checks(databases=["default"])}


@pytest.mark.parametrize("field", ["logout", "logoutAll"])
@pytest.mark.parametrize("via", ["graphql-sync", "graphql-async"])
def test_a_login_then_logout_in_one_document_leaves_no_session_behind(cookie_on, user, clients, via, field):
    """The login's token went into the cookie, which the logout deletes: it was the only copy."""
    browser = Browser(via)
    browser.get_csrf()
    browser.login()
    login = LOGIN.replace("mutation Login($client: String) {", "").rsplit("}", 1)[0].replace("$client", '"web"')
    response = browser.graphql("mutation { %s out: %s { __typename } }" % (login, field))
    assert response.json()["data"]["out"] == {"__typename": "LogoutResult"}
    assert deleted(response)
    assert not AuthToken.objects.exists()
