"""The middleware on plain Django views, sync and async, and the system checks."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core import checks
from django.test import AsyncClient, override_settings

from gql_authtoken import tokens

from .settings import MIDDLEWARE


@pytest.fixture(params=["sync", "async"])
def get(request, db):
    """GET a path through the WSGI (sync) or ASGI (async) handler."""

    def get(path, **headers):
        if request.param == "async":
            return async_to_sync(AsyncClient().get)(path, headers=headers)
        from django.test import Client

        return Client().get(path, headers=headers)

    return get


@pytest.mark.parametrize("path", ["/whoami/", "/awhoami/"])
def test_sets_user_and_auth_for_plain_views(get, user, path):
    issued = tokens.issue_token(user)
    assert get(path, Authorization=f"Token {issued.token}").json() == {"user": "alice", "auth": issued.instance.pk}
    assert get(path).json() == {"user": None, "auth": None}
    assert get(path, Authorization="Token bad").json() == {"user": None, "auth": None}
    assert get(path, Authorization="Basic abc").json() == {"user": None, "auth": None}


def test_lookup_is_lazy(get, user, login_token, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert get("/untouched/", Authorization=f"Token {login_token}").status_code == 200


def test_lookup_happens_once_per_request(get, user, login_token, django_assert_num_queries):
    # whoami reads request.user and request.auth; the DRF view authenticates too.
    with django_assert_num_queries(1):
        get("/whoami/", Authorization=f"Token {login_token}")
    with django_assert_num_queries(1):
        get("/web-only/", Authorization=f"Token {login_token}")


@pytest.mark.parametrize(
    "header",
    ["Token \x00", "Token " + "x" * 100_000, "Token a\tb", "Bearer", "Token \xff\xfe", "token  " + "é" * 10],
)
def test_odd_headers_never_fail_the_request(get, header):
    response = get("/whoami/", Authorization=header)
    assert response.status_code == 200
    assert response.json() == {"user": None, "auth": None}


def check_ids(**overrides):
    with override_settings(**overrides):
        return sorted(message.id for message in checks.run_checks())


def test_checks_pass_on_the_test_settings(db):
    from django.conf import settings
    from django.db import connection

    # Without Redis the suite's cache is the file cache, whose counters are not atomic; the
    # suite's SQLite keeps Django's default transactions (its concurrency tests need PostgreSQL).
    redis = "redis" in settings.CACHES["default"]["BACKEND"]
    sqlite = connection.vendor == "sqlite"
    expected = ([] if redis else ["gql_authtoken.W005"]) + (["gql_authtoken.W011"] if sqlite else [])
    assert check_ids() == expected


def test_check_missing_or_misplaced_middleware():
    without = [m for m in MIDDLEWARE if "gql_authtoken" not in m]
    assert "gql_authtoken.E010" in check_ids(MIDDLEWARE=without)
    misplaced = ["gql_authtoken.middleware.TokenAuthenticationMiddleware"] + without
    assert "gql_authtoken.E011" in check_ids(MIDDLEWARE=misplaced)


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"NOPE": 1}, "gql_authtoken.E002"),
        ({"DEFAULT_TOKEN_TTL": 3600}, "gql_authtoken.E003"),
        ({"TOKEN_CHARACTER_LENGTH": 8}, "gql_authtoken.E004"),
        ({"TOKEN_PREFIX": "has space"}, "gql_authtoken.E005"),
        ({"AUTH_HEADER_PREFIXES": "Token"}, "gql_authtoken.E006"),
        ({"TOKEN_CACHE_TIMEOUT": -1}, "gql_authtoken.E007"),
        ({"TOKEN_CACHE_ALIAS": "missing"}, "gql_authtoken.E008"),
        ({"USER_SERIALIZER": "no.such.Serializer"}, "gql_authtoken.E009"),
        ({"API_ACCESS_RESPONSE_INCLUDE_TOKEN": True}, "gql_authtoken.W001"),
        ({"REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": "nope"}, "gql_authtoken.E012"),
        ({"REGISTRATION_EMAIL_CONFIRM": True}, "gql_authtoken.E013"),
        ({"LOGIN_THROTTLE_RATE": "ten/min"}, "gql_authtoken.E017"),
        ({"LOGIN_ACCOUNT_THROTTLE_RATE": "100/fortnight"}, "gql_authtoken.E017"),
        ({"LOGIN_ACCOUNT_THROTTLE_RATE": ""}, "gql_authtoken.E017"),
        ({"ACCOUNT_THROTTLE_RATE": 30}, "gql_authtoken.E017"),
        ({"IPV6_THROTTLE_PREFIX": 129}, "gql_authtoken.E018"),
        ({"IPV6_THROTTLE_PREFIX": "64"}, "gql_authtoken.E018"),
        ({"IPV6_THROTTLE_PREFIX": True}, "gql_authtoken.E018"),
        ({"REGISTRATION_ENABLED": "False"}, "gql_authtoken.E027"),  # a string from the environment: true
        ({"REGISTRATION_CONFIRM_ON_GET": 0}, "gql_authtoken.E027"),
        ({"API_ACCESS_EXCLUDE_FROM_SESSIONS": "no"}, "gql_authtoken.E027"),
        ({"ACCEPT_REST_AUTHTOKEN_TOKENS": None}, "gql_authtoken.E027"),
    ],
)
def test_setting_checks(settings, error):
    assert error in check_ids(GQL_AUTHTOKEN=settings)


def test_an_unknown_setting_hears_the_closest_name():
    with override_settings(GQL_AUTHTOKEN={"REGISTRATION_ENABLE": True, "ZZZ": 1, "token_prefix": "x", 1: True}):
        hints = {message.msg: message.hint for message in checks.run_checks() if message.id == "gql_authtoken.E002"}
    typo = "GQL_AUTHTOKEN has an unknown setting 'REGISTRATION_ENABLE'."
    assert hints[typo] == "Did you mean 'REGISTRATION_ENABLED'?"
    assert "settings reference" in hints["GQL_AUTHTOKEN has an unknown setting 'ZZZ'."]
    assert hints["GQL_AUTHTOKEN has an unknown setting 'token_prefix'."] == "Did you mean 'TOKEN_PREFIX'?"
    assert "GQL_AUTHTOKEN has an unknown setting 1." in hints  # not a crash of sorted() on mixed keys


@override_settings(ROOT_URLCONF="tests.urls_without_rest")
def test_check_confirm_url_needs_the_rest_urls():
    ids = check_ids(GQL_AUTHTOKEN={"REGISTRATION_EMAIL_CONFIRM": True, "REGISTRATION_EMAIL": {"BASE_URL": "http://x"}})
    assert "gql_authtoken.W002" in ids
    ids = check_ids(GQL_AUTHTOKEN={"REGISTRATION_EMAIL_CONFIRM": True, "REGISTRATION_CONFIRM_URL": "http://x/{token}"})
    assert "gql_authtoken.W002" not in ids


def test_the_rest_urls_without_the_rest_framework_app_are_warned_of(settings):
    without = [app for app in settings.INSTALLED_APPS if app != "rest_framework"]
    with override_settings(INSTALLED_APPS=without):
        assert "gql_authtoken.W012" in check_ids()
        with override_settings(ROOT_URLCONF="tests.urls_without_rest"):
            assert "gql_authtoken.W012" not in check_ids()  # GraphQL only
    assert "gql_authtoken.W012" not in check_ids()
    for urlconf in ("tests.urls_tenant", "tests.urls_odd"):  # under a converter; a subclassed view on its own
        with override_settings(INSTALLED_APPS=without, ROOT_URLCONF=urlconf):
            assert "gql_authtoken.W012" in check_ids(), urlconf


def test_the_url_checks_leave_a_broken_urlconf_to_django():
    """An entry that is not a pattern: Django's urls.E004, not a traceback of the package's checks."""
    from django.db import connections

    original = connections.settings
    connections.settings = {alias: {**config, "ATOMIC_REQUESTS": True} for alias, config in original.items()}
    try:
        with override_settings(ROOT_URLCONF="tests.urls_odd"):
            ids = {message.id for message in checks.run_checks()}
    finally:
        connections.settings = original
    assert {"urls.E004", "gql_authtoken.E031"} <= ids


def test_an_async_graphql_view_under_atomic_requests_is_an_error():
    """tests/urls.py routes AsyncGraphQLView at graphql/async/ (and others), and one wrapped in
    transaction.non_atomic_requests at graphql/async-non-atomic/."""
    from django.db import connections

    original = connections.settings
    connections.settings = {alias: {**config, "ATOMIC_REQUESTS": True} for alias, config in original.items()}
    try:
        messages = [m for m in checks.run_checks() if m.id == "gql_authtoken.E031"]
    finally:
        connections.settings = original
    routes = {m.msg.split("'")[1] for m in messages}
    assert "graphql/async/" in routes and "graphql/async-non-atomic/" not in routes
    assert "graphql/sync/" not in routes
    assert "gql_authtoken.E031" not in check_ids()
