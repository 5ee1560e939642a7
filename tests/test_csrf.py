"""CSRF: enforced where a browser could be tricked, and nowhere else."""

from __future__ import annotations

import json

import pytest
from django.middleware.csrf import get_token
from django.test import Client as DjangoClient
from django.test import RequestFactory

from .conftest import PASSWORD

ME = json.dumps({"query": "{ me { username } }"})


@pytest.fixture
def browser(user):
    """A browser holding alice's session cookie (and a CSRF cookie)."""
    client = DjangoClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_session_cookie_without_csrf_token_is_refused(gql, browser):
    cookie = browser.cookies["sessionid"].value
    response = gql.post("{ me { username } }", Cookie=f"sessionid={cookie}")
    assert response.status_code == 403


def test_session_cookie_with_csrf_token_is_the_session_user(browser):
    request = RequestFactory().get("/")
    csrf = get_token(request)
    browser.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    response = browser.post("/graphql/sync/", ME, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200
    assert response.json()["data"]["me"] == {"username": "alice"}


def test_token_header_needs_no_csrf_token_even_with_a_session_cookie(browser, other_user):
    from gql_authtoken import tokens

    bob = tokens.issue_token(other_user).token
    response = browser.post("/graphql/sync/", ME, content_type="application/json",
                            headers={"Authorization": f"Token {bob}"})
    assert response.status_code == 200
    # The token decides who the request is; the session cookie is ignored.
    assert response.json()["data"]["me"] == {"username": "bob"}


def test_invalid_token_with_a_session_cookie_is_anonymous_not_the_session_user(browser):
    response = browser.post("/graphql/sync/", ME, content_type="application/json",
                            headers={"Authorization": "Token revoked"})
    assert response.status_code == 200
    assert response.json()["data"]["me"] is None


def test_json_login_without_cookie_needs_no_csrf_token(gql, user):
    query = 'mutation { login(username: "alice", password: "%s") { __typename } }' % PASSWORD
    assert gql(query)["data"]["login"]["__typename"] == "LoginResult"


@pytest.mark.parametrize("content_type",
                         ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"])
def test_form_like_posts_without_token_keep_csrf_protection(db, content_type):
    client = DjangoClient(enforce_csrf_checks=True)
    response = client.post("/graphql/sync/", "query=%7B+me+%7B+username+%7D+%7D", content_type=content_type)
    assert response.status_code == 403


def test_admin_login_form_keeps_csrf_protection(user):
    client = DjangoClient(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
