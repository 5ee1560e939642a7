"""Login throttling per core call: aliases and batches cannot multiply attempts."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client as DjangoClient
from django.test import override_settings
from rest_framework.test import APIClient

from gql_authtoken.models import AuthToken

from .conftest import PASSWORD, operation_code

THROTTLED = re.compile(r"Too many attempts\. Try again in \d+ seconds?\.")


def test_the_eleventh_attempt_is_throttled_even_with_the_right_password(adapter, user):
    for _ in range(10):
        assert adapter.login("alice", "wrong")[0] == "invalid_credentials"
    assert adapter.login("alice", PASSWORD) == ("throttled", None)
    assert not AuthToken.objects.exists()


def test_rest_answers_429_with_retry_after(user):
    api = APIClient()
    for _ in range(10):
        api.post("/auth/login/", {"username": "alice", "password": "wrong"})
    response = api.post("/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert THROTTLED.fullmatch(response.json()["detail"])


def test_per_ip_across_usernames(user):
    api = APIClient(REMOTE_ADDR="203.0.113.7")
    for i in range(10):
        assert api.post("/auth/login/", {"username": f"user{i}", "password": "x"}).status_code == 400
    assert api.post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 429
    # Another address is not held back by that one.
    assert APIClient(REMOTE_ADDR="203.0.113.8").post(
        "/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200


def test_one_hundred_aliases_count_one_hundred_attempts(gql, user):
    fields = " ".join(
        f'a{i}: login(username: "alice", password: "{PASSWORD if i == 99 else "wrong"}") '
        f"{{ __typename ... on OperationInfo {{ messages {{ code message }} }} }}"
        for i in range(100)
    )
    data = gql(f"mutation {{ {fields} }}")["data"]
    codes = [operation_code(data[f"a{i}"]) for i in range(100)]
    assert codes == ["invalid_credentials"] * 10 + ["throttled"] * 90
    assert THROTTLED.fullmatch(data["a99"]["messages"][0]["message"])
    assert not AuthToken.objects.exists()


def test_a_batch_of_operations_counts_each_operation(user):
    login = 'mutation { login(username: "alice", password: "%s") { __typename } }'
    batch = [{"query": login % "wrong"} for _ in range(14)] + [{"query": login % PASSWORD}]
    response = DjangoClient().post("/graphql/batch/", json.dumps(batch), content_type="application/json")
    assert response.status_code == 200
    names = [result["data"]["login"]["__typename"] for result in response.json()]
    assert names == ["OperationInfo"] * 15
    assert not AuthToken.objects.exists()


@override_settings(GQL_AUTHTOKEN={"LOGIN_THROTTLE_RATE": None})
def test_rate_none_disables(adapter, user):
    for _ in range(15):
        adapter.login("alice", "wrong")
    assert adapter.login("alice", PASSWORD)[0] == "ok"


@override_settings(GQL_AUTHTOKEN={"CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"})
def test_client_ip_header_uses_the_address_the_proxy_appended(user):
    for i in range(10):
        # The client forges the left part; the proxy appends the real address.
        APIClient().post("/auth/login/", {"username": f"u{i}", "password": "x"},
                         HTTP_X_FORWARDED_FOR=f"10.9.9.{i}, 192.0.2.10")
    response = APIClient().post("/auth/login/", {"username": "alice", "password": PASSWORD},
                                HTTP_X_FORWARDED_FOR="10.1.1.1, 192.0.2.11")
    assert response.status_code == 200
    assert AuthToken.objects.get().ip_address == "192.0.2.11"
    response = APIClient().post("/auth/login/", {"username": "alice", "password": PASSWORD},
                                HTTP_X_FORWARDED_FOR="1.1.1.1, 192.0.2.10")
    assert response.status_code == 429


def test_buckets_are_per_operation(adapter, user, settings):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True, "LOGIN_THROTTLE_RATE": "1/min"}
    assert adapter.login("alice", PASSWORD)[0] == "ok"
    assert adapter.login("alice", PASSWORD)[0] == "throttled"
    assert adapter.register("carol", "a-Strong-passphrase-42") == "ok"


# --- per-client rate -------------------------------------------------------------


@pytest.fixture
def limited(user):
    from gql_authtoken import tokens
    from gql_authtoken.models import Client

    client = Client.objects.create(name="scraper", throttle_rate="3/hour")
    return tokens.issue_token(user, client=client).token


def test_client_rate_limits_rest_endpoints_per_user_and_client(limited, user):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {limited}")
    assert [api.get("/auth/token/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert int(api.get("/auth/token/")["Retry-After"]) > 0
    from gql_authtoken import tokens

    # Another session of the same user without a rated client is not limited.
    other = tokens.issue_token(user).token
    api.credentials(HTTP_AUTHORIZATION=f"Token {other}")
    assert api.get("/auth/token/").status_code == 200


def test_client_rate_limits_graphql_once_per_request(gql, limited):
    query = "{ a: sessions { id } b: sessions { id } c: currentSession { id } }"
    for _ in range(3):
        assert "errors" not in gql(query, token=limited)  # three fields, one request, one count
    result = gql(query, token=limited)
    assert {e["extensions"]["code"] for e in result["errors"]} == {"throttled"}


def test_rest_and_graphql_share_the_client_budget(gql, limited):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {limited}")
    assert api.get("/auth/token/").status_code == 200
    assert "errors" not in gql("{ sessions { id } }", token=limited)
    assert api.get("/auth/token/").status_code == 200
    assert api.get("/auth/token/").status_code == 429


RESET_MAIL = "/auth/password/reset/"
RESEND = "/graphql/sync/"


def _ask_for_mail(route, ip):
    """A reset mail (REST) or a resend of the confirmation (GraphQL) for alice from ``ip``: the code."""
    client = DjangoClient(REMOTE_ADDR=ip)
    if route == RESET_MAIL:
        response = client.post(RESET_MAIL, {"email": "ALICE@example.com"}, content_type="application/json")
        return "throttled" if response.status_code == 429 else response.status_code
    query = ('mutation { resendConfirmationEmail(email: "alice@example.com") '
             "{ __typename ... on OperationInfo { messages { code } } } }")
    payload = client.post(RESEND, {"query": query}, content_type="application/json").json()
    return operation_code(payload["data"]["resendConfirmationEmail"]) or 200


@pytest.mark.parametrize("route", [RESET_MAIL, RESEND])
def test_one_address_cannot_use_up_the_mails_to_someone_elses_address(route, user, settings):
    """The address bucket of a reset mail or a resend takes at most half of its rate from one
    IP: an attacker mailing alice from one address does not lock her out of her own reset."""
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "ACCOUNT_THROTTLE_RATE": "4/hour",
                              "PASSWORD_RESET_URL": "https://app.example.com/reset/{token}"}
    attacker = "203.0.113.7"
    assert [_ask_for_mail(route, attacker) for _ in range(3)] == [200, 200, "throttled"]
    assert _ask_for_mail(route, "198.51.100.20") == 200  # alice, elsewhere
    # Addresses together still stop at the address's rate.
    assert _ask_for_mail(route, "198.51.100.21") == 200
    assert _ask_for_mail(route, "198.51.100.22") == "throttled"


def test_another_project_on_the_same_cache_never_counts_in_this_one_s_buckets(adapter, user, settings):
    """brk78: two projects on one Redis database without KEY_PREFIX shared every bucket, so failed
    logins on one project's user locked out the other project's user with the same primary key."""
    project_a = settings.SECRET_KEY
    settings.SECRET_KEY = "another project's secret key, long enough to be one"
    for _ in range(10):
        assert adapter.login("alice", "wrong")[0] == "invalid_credentials"
    assert adapter.login("alice", PASSWORD) == ("throttled", None)  # project B: its own bucket is full
    settings.SECRET_KEY = project_a
    assert adapter.login("alice", PASSWORD)[0] == "ok"  # project A: untouched


def test_one_address_cannot_use_up_the_registrations_naming_someone_elses_address(db, settings):
    """The same for register: an attacker registering with carol's address from one IP (weak
    passwords: refused, nothing created) leaves her half of the address's bucket."""
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "REGISTRATION_ENABLED": True,
                              "ACCOUNT_THROTTLE_RATE": "4/hour"}

    def register(ip, username):
        data = {"username": username, "password": "x", "email": "carol@example.com"}
        return DjangoClient(REMOTE_ADDR=ip).post("/auth/register/", data, content_type="application/json").status_code

    assert [register("203.0.113.7", f"attacker{n}") for n in range(3)] == [400, 400, 429]
    assert register("198.51.100.20", "carol") == 400  # carol, elsewhere: heard why, not throttled
    assert register("198.51.100.21", "carol2") == 400
    assert register("198.51.100.22", "carol3") == 429  # addresses together: the address's rate
