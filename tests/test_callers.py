"""The caller's IP address is always storable: odd ``REMOTE_ADDR`` and header values never a 500.

A zone id (``fe80::1%eth0``) names an interface of the machine that saw the
address; PostgreSQL's ``inet`` refuses it (long ones: "invalid input syntax
for type inet") and SQLite would store it as it came, NUL and all.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from gql_authtoken import callers, throttling
from gql_authtoken.models import AuthToken, Client

from .conftest import LOGIN, PASSWORD, GraphQLClient
from .test_registration import ENABLED, GOOD

ZONE_LONG = "fe80::1%" + "a" * 300


@pytest.mark.parametrize(("value", "ip"), [
    ("fe80::1%eth0", "fe80::1"),
    (ZONE_LONG, "fe80::1"),
    ("fe80::1%\x00", "fe80::1"),
    ("fe80::1%", "fe80::1"),
    ("[fe80::1%eth0]:443", "fe80::1"),
    ("FE80:0:0:0:0:0:0:1%25eth0", "fe80::1"),
    ("::ffff:203.0.113.9%eth0", "203.0.113.9"),
    ("::ffff:203.0.113.9", "203.0.113.9"),
    ("203.0.113.9%eth0", None),  # no zone ids in IPv4: not an address
    ("%eth0", None),
    ("fe80::1\x00", None),
    ("", None),
    ("\ud800", None),
])
@pytest.mark.parametrize("header", [None, "HTTP_X_FORWARDED_FOR"])
def test_client_ip_is_a_storable_address(settings, value, ip, header):
    settings.GQL_AUTHTOKEN = {"CLIENT_IP_HEADER": header}
    meta = {header: f"198.51.100.1, {value}"} if header else {"REMOTE_ADDR": value}
    request = RequestFactory().get("/", **meta)
    assert callers.client_ip(request) == ip


def test_a_zone_id_does_not_make_a_throttle_bucket_of_its_own(rf):
    one = callers.client_ip(rf.get("/", REMOTE_ADDR="fe80::1%eth0"))
    other = callers.client_ip(rf.get("/", REMOTE_ADDR="fe80::1%eth1"))
    assert throttling.ip_bucket(one) == throttling.ip_bucket(other) == throttling.ip_bucket("fe80::1")


ODD = [ZONE_LONG, "fe80::1%eth0", "fe80::1%\x00", "[fe80::1%x]:1", "::ffff:203.0.113.9%z", "\x00", "a" * 500,
       "1.2.3.4\x00", "é"]


@pytest.fixture(params=["REMOTE_ADDR", "HTTP_X_FORWARDED_FOR"])
def ip_from(request, settings):
    """Where the address comes from: ``REMOTE_ADDR`` or the proxy's header (``CLIENT_IP_HEADER``)."""
    header = None if request.param == "REMOTE_ADDR" else request.param
    settings.GQL_AUTHTOKEN = {**ENABLED, "CLIENT_IP_HEADER": header, "API_ACCESS_CLIENT_NAME": "api"}
    return request.param


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_graphql_login_and_register_from_odd_addresses(user, ip_from, kind, value):
    if ip_from == "REMOTE_ADDR":
        gql, headers = GraphQLClient(kind, value), {}
    else:
        gql, headers = GraphQLClient(kind), {"X_Forwarded_For": value}
    result = gql(LOGIN, {"username": "alice", "password": PASSWORD}, **headers)
    assert result["data"]["login"]["__typename"] == "LoginResult", result
    register = ("mutation($u: String!, $p: String!) { register(username: $u, password: $p) "
                "{ __typename } }")
    result = gql(register, {"u": "carol", "p": GOOD}, **headers)
    assert result["data"]["register"]["__typename"] == "RegisterResult", result
    assert {token.ip_address for token in AuthToken.objects.all()} <= {"fe80::1", "203.0.113.9", None}


@pytest.mark.parametrize("value", ODD)
def test_rest_login_register_and_api_key_from_odd_addresses(user, ip_from, value):
    Client.objects.create(name="api", token_ttl=timedelta(days=1))
    api = APIClient(**{ip_from: value})
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    assert api.post("/auth/register/", {"username": "carol", "password": GOOD}, format="json").status_code == 201
    api.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert api.post("/auth/apiaccess/").status_code == 201
    assert api.get("/auth/sessions/").status_code == 200
    assert {token.ip_address for token in AuthToken.objects.all()} <= {"fe80::1", "203.0.113.9", None}
