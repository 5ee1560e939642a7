"""API.md §11: every answer to a request whose cookie token is dead deletes the cookie, and no
answer deletes a live one. One table: every path (GraphQL sync, async and batched, every REST
endpoint, plain Django views, a 404, the admin) x every method x with and without the CSRF
token, through WSGI and ASGI, for cookies that are unknown, revoked, expired or live.

What the browser keeps after any answer must be a live token or nothing: a dead cookie is
deleted (or replaced by a login), a live one stays unless the request itself ended its session
(a logout, ``logoutAll``, revoking it by id: then deleted) or rotated it (then replaced).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.test import Client as DjangoClient
from django.urls import reverse
from django.utils.crypto import get_random_string

from gql_authtoken import cache as token_cache
from gql_authtoken import clock, tokens
from gql_authtoken import urls as rest_urls
from gql_authtoken.models import AuthToken

COOKIE = "authtoken"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
TYPENAME = "?query=%7B__typename%7D"
SESSION = "{session}"  # replaced by the cookie token's own session id


def rest_paths() -> list[str]:
    """Every named REST endpoint of ``gql_authtoken.urls``, its arguments filled in."""
    samples = {"session_id": SESSION, "token": "not-a-confirmation-token"}
    paths = []
    for pattern in rest_urls.urlpatterns:
        if pattern.name:
            kwargs = {name: samples[name] for name in pattern.pattern.converters}
            paths.append(reverse(f"gql_authtoken:{pattern.name}", kwargs=kwargs).replace("%7B", "{")
                         .replace("%7D", "}"))
    return paths


PATHS = [
    f"/graphql/sync/{TYPENAME}", f"/graphql/async/{TYPENAME}", f"/graphql/batch/{TYPENAME}",
    *rest_paths(),
    "/whoami/", "/awhoami/", "/untouched/", "/optional/", "/cached/",
    "/no-such-page/",
    "/admin/", "/admin/login/",
]


def test_the_table_covers_every_rest_endpoint():
    assert len([p for p in PATHS if p.startswith("/auth/")]) == len([p for p in rest_urls.urlpatterns if p.name])
    assert "/auth/sessions/{session}/" in PATHS and "/auth/password/reset/confirm/" in PATHS


def issue(user, clients) -> tuple[str, AuthToken]:
    issued = tokens.issue_token(user, client=clients["web"])
    return issued.token, issued.instance


def cookie_token(state: str, user, clients) -> tuple[str, AuthToken | None]:
    """A token whose state is ``state`` (a fresh one each time: requests may end or use it)."""
    if state == "unknown":
        return "not-a-token-" + get_random_string(20), None
    token, instance = issue(user, clients)
    if state == "revoked":
        tokens.revoke_tokens(AuthToken.objects.filter(pk=instance.pk), user=user)
    elif state == "expired":
        AuthToken.objects.filter(pk=instance.pk).update(expiry=clock.now() - timedelta(seconds=1))
        token_cache.invalidate_user_tokens(user)
    return token, instance


def send(handler: str, method: str, path: str, *, cookie: str, csrf: bool) -> Any:
    """One browser request: the cookie, the ``csrftoken`` cookie, and ``X-CSRFToken`` when ``csrf``."""
    secret = get_random_string(32)
    client: Any = AsyncClient(enforce_csrf_checks=True) if handler == "asgi" else DjangoClient(
        enforce_csrf_checks=True)
    client.cookies[COOKIE] = cookie
    client.cookies["csrftoken"] = secret
    headers = {"X-CSRFToken": secret} if csrf else {}
    body = json.dumps({"query": "{ __typename }"}) if method not in ("GET", "HEAD", "OPTIONS") else ""
    if handler == "wsgi":
        return client.generic(method, path, body, content_type="application/json", headers=headers)

    async def request() -> Any:
        return await client.generic(method, path, body, content_type="application/json", headers=headers)

    return async_to_sync(request)()


def outcome(response) -> str:
    morsel = response.cookies.get(COOKIE)
    if morsel is None:
        return "kept"
    return "deleted" if morsel.value == "" and morsel["max-age"] == 0 else "set"


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
@pytest.mark.parametrize("state", ["unknown", "revoked", "expired", "live"])
def test_every_answer_deletes_a_dead_cookie_and_keeps_a_live_one(settings, user, clients, handler, state):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    wrong = []
    for path in PATHS:
        for method in METHODS:
            for csrf in (True, False):
                token, instance = cookie_token(state, user, clients)
                url = path.replace(SESSION, str(instance.pk) if instance is not None else "1")
                response = send(handler, method, url, cookie=token, csrf=csrf)
                assert response.status_code < 500, (method, url, csrf, response.content[:300])
                got = outcome(response)
                if state != "live":
                    expected = "deleted"
                elif got == "set":  # a refresh (the same token) or a rotation (the old one is gone)
                    new = response.cookies[COOKIE].value
                    expected = "set" if tokens.is_live(new) and (new == token or not tokens.is_live(token)) else "?"
                else:  # deleted exactly when this request ended the session
                    expected = "kept" if tokens.is_live(token) else "deleted"
                if got != expected:
                    wrong.append(f"{method} {url} csrf={csrf}: {response.status_code}, cookie {got}, "
                                 f"expected {expected}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_a_live_cookie_is_deleted_only_by_the_requests_that_end_its_session(settings, user, clients, handler):
    """The requests of the table that end a live cookie session or set it again: those and no others."""
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    ended = {}
    for path in PATHS:
        for method in METHODS:
            token, instance = cookie_token("live", user, clients)
            url = path.replace(SESSION, str(instance.pk))
            got = outcome(send(handler, method, url, cookie=token, csrf=True))
            if got != "kept":
                ended[f"{method} {path}"] = got
    assert ended == {
        "POST /auth/logout/": "deleted", "DELETE /auth/logout/": "deleted",
        "POST /auth/logoutall/": "deleted",
        "DELETE /auth/sessions/{session}/": "deleted",
        "PUT /auth/token/": "set", "POST /auth/refresh/": "set",
    }


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_a_dead_cookie_beside_a_token_header_is_deleted_and_the_header_still_wins(settings, user, other_user,
                                                                                   clients, handler):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    bob = tokens.issue_token(other_user).token
    alice, _instance = issue(user, clients)
    for cookie, expected in (("not-a-token", "deleted"), (alice, "kept")):
        client: Any = AsyncClient() if handler == "asgi" else DjangoClient()
        client.cookies[COOKIE] = cookie
        get = async_to_sync(client.get) if handler == "asgi" else client.get
        response = get("/optional/", headers={"Authorization": f"Token {bob}"})
        assert response.json() == {"user": "bob"}
        assert outcome(response) == expected


def test_a_dead_cookie_in_the_admin_is_deleted_and_a_live_one_never_logs_in(settings, clients, db):
    """Tokens never authenticate the admin (API.md §8), live or not; a dead cookie is deleted there
    too, and looking at a live one uses nothing of it (no ``last_used``)."""
    from django.contrib.auth import get_user_model

    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x-Str0ng-pass")
    token, instance = issue(root, clients)
    AuthToken.objects.filter(pk=instance.pk).update(last_used=None)
    for cookie, expected in (("not-a-token", "deleted"), (token, "kept")):
        client = DjangoClient()
        client.cookies[COOKIE] = cookie
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert outcome(response) == expected
        assert outcome(client.get("/admin/login/")) == expected
    assert AuthToken.objects.get(pk=instance.pk).last_used is None


def test_revoking_the_cookie_session_by_id_deletes_the_cookie_and_another_session_keeps_it(settings, user,
                                                                                            clients):
    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}}
    token, instance = issue(user, clients)
    _other, other = issue(user, clients)
    mutation = 'mutation { revokeSession(id: "%s") { __typename } }'
    for session, expected in ((other, "kept"), (instance, "deleted")):
        response = send("wsgi", "POST", "/graphql/sync/", cookie=token, csrf=True)
        assert outcome(response) == "kept"
        client = DjangoClient(enforce_csrf_checks=True)
        secret = get_random_string(32)
        client.cookies[COOKIE] = token
        client.cookies["csrftoken"] = secret
        response = client.post("/graphql/sync/", json.dumps({"query": mutation % session.pk}),
                               content_type="application/json", headers={"X-CSRFToken": secret})
        assert response.json()["data"]["revokeSession"]["__typename"] == "LogoutResult"
        assert outcome(response) == expected


def test_is_live_tells_without_using_the_token(user, clients, django_assert_num_queries):
    """``tokens.is_live``: what ``authenticate_token`` would say, with nothing written or sent."""
    from gql_authtoken import signals

    sent = []
    signals.token_expired.connect(receiver := lambda **kwargs: sent.append(kwargs), weak=False)
    try:
        live, instance = cookie_token("live", user, clients)
        AuthToken.objects.filter(pk=instance.pk).update(last_used=None)
        expired, expired_instance = cookie_token("expired", user, clients)
        revoked, _revoked = cookie_token("revoked", user, clients)
        with django_assert_num_queries(1):
            assert tokens.is_live(live)
        for dead in (expired, revoked, "not-a-token", "x" * 5000):
            assert not tokens.is_live(dead)
        assert AuthToken.objects.get(pk=instance.pk).last_used is None
        assert AuthToken.objects.filter(pk=expired_instance.pk).exists() and not sent
        type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: the token row stays
        token_cache.invalidate_user_tokens(user)
        assert AuthToken.objects.filter(pk=instance.pk).exists() and not tokens.is_live(live)
    finally:
        signals.token_expired.disconnect(receiver)


@pytest.mark.parametrize("handler", ["wsgi", "asgi"])
def test_anonymous_rest_endpoints_without_the_csrf_token_delete_a_dead_cookie(settings, user, clients, handler):
    """The requests are handled as without the cookie (a JSON login of another client, a reset,
    a registration need no CSRF token), and their answers delete the dead cookie."""
    from .conftest import PASSWORD

    settings.GQL_AUTHTOKEN = {"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}, "REGISTRATION_ENABLED": True,
                              "PASSWORD_RESET_URL": "https://app.example.com/reset/{token}"}
    name = "carol" + get_random_string(4).lower()
    for path, body, status in (
        ("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "cli"}, 200),
        ("/auth/password/reset/", {"email": "alice@example.com"}, 200),
        ("/auth/password/reset/confirm/", {"token": "x", "new_password": "y"}, 400),
        ("/auth/register/", {"username": name, "password": PASSWORD, "email": f"{name}@example.com"}, 201),
    ):
        client: Any = AsyncClient(enforce_csrf_checks=True) if handler == "asgi" else DjangoClient(
            enforce_csrf_checks=True)
        client.cookies[COOKIE] = "dead-token-value"
        post = async_to_sync(client.post) if handler == "asgi" else client.post
        response = post(path, json.dumps(body), content_type="application/json")
        assert response.status_code == status, (path, response.content)
        assert outcome(response) == "deleted", path
