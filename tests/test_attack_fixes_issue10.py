"""Inputs found by an attack on issue 10, each with its variants."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import include, path

from gql_authtoken import callers, tokens
from gql_authtoken.models import Client

from .conftest import PASSWORD
from .test_registration import GOOD

urlpatterns = [
    path("admin/doc/", include("django.contrib.admindocs.urls")),
    path("", include("tests.urls")),
]


@pytest.mark.parametrize("email", ["ⅷ" * 62 + "@example.com", "ﬃ" * 85 + "@example.com"])
def test_an_address_that_normalisation_lengthens_past_its_column_is_a_field_error(adapter, db, settings, email):
    """NFKC turns "ⅷ" into "viii": the typed value fits, the stored one would not."""
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    assert len(email) <= 254
    outcome = adapter.register("carol", GOOD, email)
    assert isinstance(outcome, dict) and set(outcome) == {"email"}, outcome
    assert not get_user_model().objects.filter(username="carol").exists()


@pytest.mark.parametrize(("value", "address"), [
    ("203.0.113.9:1111", "203.0.113.9"),
    ("198.51.100.7, 203.0.113.9:2222", "203.0.113.9"),
    ("[2001:db8:1::1]:443", "2001:db8:1::1"),
    ("[2001:db8:1::1]", "2001:db8:1::1"),
    ("2001:db8::1", "2001:db8::1"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("not an address", None),
])
def test_proxies_that_append_a_port_still_name_the_client(settings, value, address):
    settings.GQL_AUTHTOKEN = {"CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"}
    request = HttpRequest()
    request.META["HTTP_X_FORWARDED_FOR"] = value
    assert callers.client_ip(request) == address


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("url", ["/admin/doc/", "/admin/doc/models/"])
def test_a_token_does_not_open_the_admin_documentation(db, url):
    root = get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-password")
    token = tokens.issue_token(root).token
    response = DjangoClient().get(url, headers={"Authorization": f"Token {token}"})
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(("options", "check"), [
    ({"LOGIN_ACCOUNT_THROTTLE_RATE": "1/hour"}, "gql_authtoken.E019"),
    # brk77: every spelling of a count of one, and the address bucket whose half is all of it.
    ({"LOGIN_ACCOUNT_THROTTLE_RATE": "01/hour"}, "gql_authtoken.E019"),
    ({"LOGIN_ACCOUNT_THROTTLE_RATE": "1 /hour"}, "gql_authtoken.E019"),
    ({"ACCOUNT_THROTTLE_RATE": "1/min"}, "gql_authtoken.E019"),
    ({"ACCOUNT_THROTTLE_RATE": "+1/day"}, "gql_authtoken.E019"),
    ({"CLIENT_IP_HEADER": "X-Forwarded-For"}, "gql_authtoken.E020"),
    ({"CLIENT_IP_HEADER": "http_x_forwarded_for"}, "gql_authtoken.E020"),
    ({"CLIENT_IP_HEADER": 5}, "gql_authtoken.E020"),
])
def test_settings_that_defeat_the_throttle_are_check_errors(settings, options, check):
    settings.GQL_AUTHTOKEN = options
    assert check in {message.id for message in run_checks()}


def test_accounts_differing_only_in_case_refuse_login_without_a_500(db, settings):
    """Made before registration refused them; a case-insensitive manager finds both."""
    from django.contrib.auth.models import UserManager

    get_user_model().objects.create_user("dup", "", PASSWORD)
    get_user_model().objects.create_user("DUP", "", PASSWORD)

    def insensitive(manager, username):
        return manager.get(username__iexact=username)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UserManager, "get_by_natural_key", insensitive)
        response = DjangoClient().post("/auth/login/", {"username": "dup", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}


@pytest.mark.parametrize("options", [["--ttl", "99999999999999999999"], ["--ttl", "²"]])
def test_create_client_answers_odd_lifetimes_with_a_command_error(db, options):
    with pytest.raises(CommandError):
        call_command("create_client", "ios", *options)


@pytest.mark.parametrize("name", ["io\x00s", "\ud800", "x" * 65])
def test_create_client_refuses_odd_names(db, name):
    with pytest.raises(CommandError):
        call_command("create_client", name)
    assert not Client.objects.exists()
