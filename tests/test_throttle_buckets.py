"""Throttle buckets (API.md §8; issue 10, item 3): one test per rule, through GraphQL and REST.

Login: ``LOGIN_THROTTLE_RATE`` per client IP (which bounds each (account, IP)
too), ``LOGIN_ACCOUNT_THROTTLE_RATE`` failures per account from all addresses.
Account operations: ``ACCOUNT_THROTTLE_RATE`` per client IP and per identity.
Identities reach their account's bucket in any spelling; IPv6 clients share a
bucket per ``IPV6_THROTTLE_PREFIX`` network; IPv4-mapped addresses are IPv4;
unknown addresses share one bucket; a full IP bucket creates no other counter.
"""

from __future__ import annotations

import itertools
import secrets
import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client as DjangoClient

from gql_authtoken import login, throttling
from gql_authtoken.accounts import registration
from gql_authtoken.exceptions import InvalidCredentials, Throttled
from gql_authtoken.models import AuthToken

from .conftest import PASSWORD, cache_contents
from .test_registration import CONFIRM_ACTIVE, GOOD

User = get_user_model()

RATES = {"LOGIN_THROTTLE_RATE": "3/min", "LOGIN_ACCOUNT_THROTTLE_RATE": "5/hour"}


@pytest.fixture
def rates(settings):
    settings.GQL_AUTHTOKEN = RATES


def fail_from(adapter, addresses, username="alice"):
    """One wrong password for ``username`` from each address; all must be refused as such."""
    for address in addresses:
        assert adapter.at(address).login(username, "wrong")[0] == "invalid_credentials", address


# --- login: per IP, failures per account ------------------------------------------------


def test_the_ip_bucket_counts_every_name(adapter, rates, user):
    for name in ["x", "y", "z"]:
        assert adapter.at("203.0.113.1").login(name, "wrong")[0] == "invalid_credentials"
    assert adapter.at("203.0.113.1").login("alice", PASSWORD)[0] == "throttled"
    assert adapter.at("203.0.113.2").login("alice", PASSWORD)[0] == "ok"


def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_elsewhere(adapter, user):
    """The lockout case, on the default rates: ten wrong passwords from one address."""
    attacker = adapter.at("198.51.100.66")
    for _ in range(10):
        assert attacker.login("alice", "wrong")[0] == "invalid_credentials"
    assert attacker.login("alice", PASSWORD)[0] == "throttled"
    assert adapter.at("192.0.2.20").login("alice", PASSWORD)[0] == "ok"


def test_failures_on_one_account_are_capped_across_addresses(adapter, rates, user):
    """A guess spread over many addresses: five failures per hour in all, then even the right password waits."""
    fail_from(adapter, [f"198.51.100.{i}" for i in range(5)])
    assert adapter.at("192.0.2.99").login("alice", PASSWORD)[0] == "throttled"
    # Another account is not held back by it.
    get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    assert adapter.at("192.0.2.99").login("bob", PASSWORD)[0] == "ok"


def test_one_address_cannot_use_up_the_failure_budget_even_slowly(adapter, settings, user, monkeypatch):
    """An address may use half of an account's failure budget; then it is throttled on that account
    (other accounts and other addresses go on). Locking an account takes several addresses."""
    settings.GQL_AUTHTOKEN = {"LOGIN_THROTTLE_RATE": "3/min", "LOGIN_ACCOUNT_THROTTLE_RATE": "10/hour"}
    start = 1_000_000 * 3600  # the start of an hour
    minutes = itertools.count()
    monkeypatch.setattr(throttling, "clock", lambda: start + 60 * next(minutes))  # a minute per look at the clock
    attacker = adapter.at("198.51.100.1")
    assert [attacker.login("alice", "wrong")[0] for _ in range(7)] == ["invalid_credentials"] * 5 + ["throttled"] * 2
    assert attacker.login("bob", "wrong")[0] == "invalid_credentials"  # its other attempts go on
    assert adapter.at("192.0.2.1").login("alice", PASSWORD)[0] == "ok"
    fail_from(adapter, ["198.51.100.2"] * 5)  # a second address: together they use up the budget
    assert adapter.at("192.0.2.1").login("alice", PASSWORD)[0] == "throttled"
    assert next(minutes) < 60  # all in one window of the failure rate


def test_a_refused_call_counts_nowhere(db):
    """A counter holds the calls it let through: hammering a full bucket leaves nothing behind."""
    first = throttling.throttle("test", ["b"], "2/min")
    throttling.throttle("test", ["b"], "2/min")
    for _ in range(5):
        with pytest.raises(Throttled):
            throttling.throttle("test", ["b"], "2/min")
    first.refund()
    throttling.throttle("test", ["b"], "2/min")


def test_successful_logins_are_no_failures(adapter, rates, user):
    for i in range(8):
        assert adapter.at(f"192.0.2.{i}").login("alice", PASSWORD)[0] == "ok"
    fail_from(adapter, [f"198.51.100.{i}" for i in range(5)])  # the whole failure budget is still there


def test_the_password_of_an_inactive_account_is_no_failure(adapter, rates, user):
    user.is_active = False
    user.save()
    for i in range(3):
        assert adapter.at(f"192.0.2.{i}").login("alice", PASSWORD)[0] == "inactive_user"
    fail_from(adapter, [f"198.51.100.{i}" for i in range(5)])  # the whole failure budget is still there


LOGIN_RATES = {"LOGIN_THROTTLE_RATE": "100/min", "LOGIN_ACCOUNT_THROTTLE_RATE": "5/hour"}


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="concurrent requests need PostgreSQL (SQLite's test database is per connection)")
def test_concurrent_guesses_cannot_overshoot_the_failure_cap(transactional_db, settings):
    """Each attempt is reserved as a failure before the password is checked."""
    settings.GQL_AUTHTOKEN = LOGIN_RATES
    User.objects.create_user("alice", "alice@example.com", PASSWORD)
    outcomes = [None] * 20
    barrier = threading.Barrier(20)

    def guess(index):
        try:
            barrier.wait(timeout=10)
            response = DjangoClient(REMOTE_ADDR=f"198.51.100.{index}").post(
                "/auth/login/", {"username": "alice", "password": "wrong"})
            outcomes[index] = response.status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [400] * 5 + [429] * 15


# --- identities: the account's bucket in every spelling ---------------------------------


def test_spellings_that_reach_one_account_share_its_buckets(adapter, rates, user, monkeypatch):
    """With a case-insensitive manager, every case and compatibility variant is the account.

    On PostgreSQL ``UPPER()`` also folds the dotless ``ı`` onto ``I``: ``alıce`` reaches
    ``alice`` there, and shares her bucket although ``str.lower()`` keeps it apart (on
    SQLite the manager does not reach her; ``identities.fold`` puts it in her bucket anyway).
    """
    manager = type(User._default_manager)
    monkeypatch.setattr(manager, "get_by_natural_key",
                        lambda self, username: self.get(**{f"{User.USERNAME_FIELD}__iexact": username}))
    variants = ["ALICE", "Alice", "ａｌｉｃｅ", "alıce" if connection.vendor == "postgresql" else "aLICE"]
    assert adapter.login(variants[-1], PASSWORD)[0] == "ok"  # each of them is the account
    fail_each(adapter, [(f"198.51.100.{i}", variants[i % len(variants)]) for i in range(5)])
    assert adapter.at("192.0.2.99").login("alice", PASSWORD)[0] == "throttled"


def fail_each(adapter, pairs):
    for address, username in pairs:
        assert adapter.at(address).login(username, "wrong")[0] == "invalid_credentials", (address, username)


def test_names_that_reach_no_account_are_folded(adapter, rates, db):
    """No account: the folded name is the bucket, so an unknown name throttles as a known one
    (throttling does not tell which accounts exist)."""
    fail_each(adapter, [(f"198.51.100.{i}", name)
                        for i, name in enumerate(["nobody", "NOBODY", "Nobody", "ｎｏｂｏｄｙ", "noBody"])])
    assert adapter.at("192.0.2.99").login("nobody", "wrong")[0] == "throttled"


def test_fullwidth_and_ligature_names_reach_the_account_bucket(adapter, rates, db):
    """With Django's case-sensitive manager, compatibility forms still reach the account (NFKC)."""
    User.objects.create_user("finn", "finn@example.com", PASSWORD)
    fail_each(adapter, [(f"198.51.100.{i}", name)
                        for i, name in enumerate(["ﬁnn", "ｆｉｎｎ", "finn", " ﬁnn", "ｆｉnn"])])
    assert adapter.at("192.0.2.99").login("finn", PASSWORD)[0] == "throttled"


# --- client addresses -----------------------------------------------------------------


def test_ipv6_clients_share_a_bucket_per_prefix(adapter, rates, user):
    """A subscriber holds a whole /64: a bucket per address would be no limit at all."""
    for i in range(3):
        assert adapter.at(f"2001:db8:1:2::{i + 1:x}").login(f"u{i}", "x")[0] == "invalid_credentials"
    assert adapter.at("2001:db8:1:2:ffff:ffff:ffff:ffff").login("alice", PASSWORD)[0] == "throttled"
    assert adapter.at("2001:db8:1:3::1").login("alice", PASSWORD)[0] == "ok"


def test_the_ipv6_prefix_is_a_setting(adapter, settings, user):
    settings.GQL_AUTHTOKEN = {**RATES, "IPV6_THROTTLE_PREFIX": 48}
    for i in range(3):
        assert adapter.at(f"2001:db8:1:{i}::1").login(f"u{i}", "x")[0] == "invalid_credentials"
    assert adapter.at("2001:db8:1:ffff::1").login("alice", PASSWORD)[0] == "throttled"
    assert adapter.at("2001:db8:2::1").login("alice", PASSWORD)[0] == "ok"


@pytest.mark.parametrize(("address", "bucket"), [
    ("203.0.113.9", "ip:203.0.113.9"),
    ("::ffff:203.0.113.9", "ip:203.0.113.9"),
    ("2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"),
    ("2001:DB8:1:2::", "ip:2001:db8:1:2::/64"),
    ("", "ip:unknown"),
    (None, "ip:unknown"),
    ("not an address", "ip:unknown"),
])
def test_ip_buckets(address, bucket):
    assert throttling.ip_bucket(address) == bucket


def test_an_ipv4_mapped_address_is_the_ipv4_address(adapter, rates, user):
    for i in range(3):
        assert adapter.at("::ffff:203.0.113.9").login(f"u{i}", "x")[0] == "invalid_credentials"
    assert adapter.at("203.0.113.9").login("alice", PASSWORD)[0] == "throttled"
    assert adapter.at("203.0.113.10").login("alice", PASSWORD)[0] == "ok"


def test_a_session_records_an_ipv4_mapped_address_as_ipv4(adapter, user):
    assert adapter.at("::ffff:203.0.113.9").login("alice", PASSWORD)[0] == "ok"
    assert AuthToken.objects.get().ip_address == "203.0.113.9"


def test_requests_without_a_usable_address_share_one_bucket(adapter, settings, user):
    """CLIENT_IP_HEADER set and the header missing (or not an address): one bucket for all of them."""
    settings.GQL_AUTHTOKEN = {**RATES, "CLIENT_IP_HEADER": "HTTP_X_REAL_IP"}
    for i in range(3):  # three different REMOTE_ADDRs, none of them counts
        assert adapter.at(f"10.0.0.{i}").login(f"u{i}", "x")[0] == "invalid_credentials"
    assert adapter.at("10.0.0.99").login("alice", PASSWORD)[0] == "throttled"
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD},
                                   headers={"X-Real-IP": "not-an-address"})
    assert response.status_code == 429
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD},
                                   headers={"X-Real-IP": "192.0.2.1"})
    assert response.status_code == 200


def test_core_calls_without_a_request_share_the_unknown_bucket(rates, user):
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            login.login(None, username=f"u{i}", password="x")
    with pytest.raises(Throttled):
        login.login(None, username="alice", password=PASSWORD)


# --- a full IP bucket creates nothing else --------------------------------------------


def _fill_the_ip_bucket(adapter):
    for i in range(3):
        adapter.login(f"u{i}", "x")
    assert adapter.login("alice", PASSWORD)[0] == "throttled"


def test_random_usernames_from_a_throttled_address_leave_no_keys_rest(rates, user):
    from .adapters import RestAdapter

    adapter = RestAdapter("198.51.100.1")
    _fill_the_ip_bucket(adapter)
    before = set(cache_contents())
    for _ in range(500):
        assert adapter.login(secrets.token_hex(8), "x")[0] == "throttled"
    assert set(cache_contents()) == before


def test_random_usernames_from_a_throttled_address_leave_no_keys_graphql(gql, rates, user):
    from .adapters import GraphQLAdapter

    _fill_the_ip_bucket(GraphQLAdapter(gql.kind, "198.51.100.1"))
    before = set(cache_contents())
    fields = " ".join(f'a{i}: login(username: "{secrets.token_hex(8)}", password: "x") '
                      f"{{ ... on OperationInfo {{ messages {{ code }} }} }}" for i in range(500))
    data = type(gql)(gql.kind, "198.51.100.1")(f"mutation {{ {fields} }}")["data"]
    assert {data[f"a{i}"]["messages"][0]["code"] for i in range(500)} == {"throttled"}
    assert set(cache_contents()) == before


def test_random_addresses_from_a_throttled_address_leave_no_keys(adapter, settings, db):
    """The account operations: register (GraphQL and REST) from a throttled address."""
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True, "ACCOUNT_THROTTLE_RATE": "2/hour"}
    caller = adapter.at("198.51.100.1")
    assert caller.register("carol", GOOD, "carol@example.com") == "ok"
    assert caller.register("carol", GOOD, "carol@example.com") != "throttled"
    assert caller.register("dave", GOOD, "dave@example.com") == "throttled"
    before = set(cache_contents())
    for _ in range(100):
        name = secrets.token_hex(8)
        assert caller.register(name, GOOD, f"{name}@example.com") == "throttled"
    assert set(cache_contents()) == before
    assert User.objects.count() == 1


# --- account operations ------------------------------------------------------------------


def test_register_counts_an_address_on_the_account_it_reaches(adapter, settings, user):
    """Every spelling of a taken address shares the account's bucket, from any address."""
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True, "ACCOUNT_THROTTLE_RATE": "3/hour"}
    taken = {"email": ["A user with that email already exists."]}
    for i, email in enumerate(["ALICE@example.com", "alice@EXAMPLE.COM", "ａｌｉｃｅ@example.com"]):
        assert adapter.at(f"198.51.100.{i}").register(f"carol{i}", GOOD, email) == taken
    assert adapter.at("192.0.2.99").register("carol9", GOOD, "Alice@Example.com") == "throttled"
    assert adapter.at("192.0.2.99").register("carol9", GOOD, "carol@example.com") == "ok"


def test_resend_counts_an_address_on_the_account_it_reaches(settings, db):
    from .conftest import GraphQLClient

    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "3/hour"}
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    query = "mutation($e: String!) { resendConfirmationEmail(email: $e) { __typename } }"
    names = []
    for i, email in enumerate(["CAROL@example.com", "carol@EXAMPLE.com", "ｃａｒｏｌ@example.com",
                               "Carol@Example.Com"]):
        result = GraphQLClient("sync", f"198.51.100.{i}")(query, {"e": email})
        names.append(result["data"]["resendConfirmationEmail"]["__typename"])
    assert names == ["ResendResult"] * 3 + ["OperationInfo"]


def test_the_confirmation_link_groups_ipv6_clients(settings, db):
    """The REST link goes through the same core: its IP bucket is the /64 too."""
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "2/hour"}
    statuses = [DjangoClient(REMOTE_ADDR=f"2001:db8::{i + 1}").post(f"/auth/register/confirm/guess{i}/").status_code
                for i in range(3)]
    assert statuses == [400, 400, 429]
    assert DjangoClient(REMOTE_ADDR="2001:db8:0:1::1").post("/auth/register/confirm/guess9/").status_code == 400


def test_a_rate_of_none_turns_the_failure_cap_off(adapter, settings, user):
    settings.GQL_AUTHTOKEN = {"LOGIN_ACCOUNT_THROTTLE_RATE": None}
    fail_from(adapter, [f"198.51.100.{i}" for i in range(12)])
    assert adapter.at("192.0.2.99").login("alice", PASSWORD)[0] == "ok"
