"""One normalisation of usernames and addresses for register, login and resend (issue 10, item 2).

What a person typed when registering (fullwidth letters, ligatures, spaces
around it) finds their account at login, through GraphQL and REST alike; a
username or address that differs from a taken one only in case is taken.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from gql_authtoken import identities
from gql_authtoken.accounts import registration

from .test_registration import CONFIRM_ACTIVE, ENABLED, GOOD

User = get_user_model()


@pytest.fixture
def enabled(settings):
    settings.GQL_AUTHTOKEN = ENABLED


# --- the functions --------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("ﬁnn", "finn"),                      # U+FB01 LATIN SMALL LIGATURE FI
    ("ｆｉｎｎ", "finn"),                  # fullwidth letters
    ("  ｆｉｎｎ\u3000", "finn"),          # ideographic space around it
    ("Ｃａｒｏｌ", "Carol"),               # case is kept
    ("ſam", "sam"),                       # U+017F LONG S is a compatibility form of s
    ("Ⅸ", "IX"),                          # roman numeral nine
])
def test_normalize_username_is_nfkc_and_stripped(db, typed, stored):
    assert identities.normalize_username(typed) == stored


@pytest.mark.parametrize(("typed", "stored"), [
    ("Carol@Example.COM", "Carol@example.com"),  # Django's normalize_email: the domain only
    (" ｃａｒｏｌ＠ｅｘａｍｐｌｅ．ｃｏｍ ", "carol@example.com"),
    ("ﬁnn@EXAMPLE.com", "finn@example.com"),
    # One internationalised domain, two spellings: the xn-- (IDNA) labels in their Unicode form.
    ("alice@xn--exmple-cua.com", "alice@exämple.com"),
    ("alice@EXÄMPLE.com", "alice@exämple.com"),
    ("a@xn--bad--.com", "a@xn--bad--.com"),  # does not decode: as typed
    ("", ""),
    (None, ""),
])
def test_normalize_email(typed, stored):
    assert identities.normalize_email(typed) == stored


def test_find_account_asks_the_manager_as_login_does(user):
    assert identities.find_account("alice") == user
    assert identities.find_account("ALICE") is None  # Django's own manager is case-sensitive
    assert identities.find_account("nobody") is None


def test_find_account_by_email_in_any_case_oldest_first(user, other_user):
    User.objects.filter(pk=other_user.pk).update(email="Alice@EXAMPLE.com")
    assert identities.find_account_by_email("ALICE@example.com") == user
    assert identities.find_account_by_email("nobody@example.com") is None
    assert identities.find_account_by_email("") is None


# --- register and login agree -----------------------------------------------------


@pytest.mark.parametrize(("registered", "logged_in"), [
    ("ﬁnn", "ﬁnn"),
    ("ﬁnn", "finn"),
    ("finn", "ﬁnn"),
    ("ｆｉｎｎ", "ｆｉｎｎ"),
    ("ｆｉｎｎ", "finn"),
    ("finn", " ｆｉｎｎ "),
    ("Ｆｉｎｎ", "Ｆｉｎｎ"),
])
def test_login_with_what_was_typed_at_registration(adapter, enabled, db, registered, logged_in):
    assert adapter.register(registered, GOOD) == "ok"
    assert adapter.login(logged_in, GOOD)[0] == "ok"


def test_login_keeps_the_managers_case_rule(adapter, enabled, db):
    """Django's manager matches exactly: ``Finn`` is no spelling of ``finn`` at login."""
    assert adapter.register("finn", GOOD) == "ok"
    assert adapter.login("FINN", GOOD)[0] == "invalid_credentials"
    assert adapter.login("ｆｉｎｎ", GOOD)[0] == "ok"


def test_existing_accounts_log_in_with_compatibility_variants(adapter, user):
    """``create_user`` stores NFKC too (``AbstractBaseUser.normalize_username``)."""
    from .conftest import PASSWORD

    assert adapter.login("ａｌｉｃｅ", PASSWORD)[0] == "ok"


# --- uniqueness in any case --------------------------------------------------------


TAKEN = {"username": ["A user with that username already exists."]}


@pytest.mark.parametrize("variant", ["ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ", " alice ", "aLiCe"])
def test_a_username_taken_in_any_case_or_form_is_unique(adapter, enabled, user, variant):
    """As Django's UserCreationForm since 4.2."""
    assert adapter.register(variant, GOOD) == TAKEN
    assert User.objects.count() == 1


def test_a_case_variant_of_a_registered_username_is_refused(adapter, enabled, db):
    assert adapter.register("Carol", GOOD) == "ok"
    assert adapter.register("cAROL", GOOD) == TAKEN
    assert adapter.register("ｃａｒｏｌ", GOOD) == TAKEN


def test_the_unique_code_is_set(gql, enabled, user):
    from .adapters import REGISTER

    result = gql(REGISTER, {"username": "ALICE", "password": GOOD})["data"]["register"]
    assert [(m["field"], m["code"]) for m in result["messages"]] == [("username", "unique")]


@pytest.mark.parametrize("variant", ["ALICE@example.com", "alice@EXAMPLE.COM", "ａｌｉｃｅ@example.com",
                                     " Alice@Example.Com "])
def test_an_address_taken_in_any_case_or_form_is_unique(adapter, enabled, user, variant):
    assert adapter.register("carol", GOOD, variant) == {"email": ["A user with that email already exists."]}


def test_registration_stores_the_normalised_forms(adapter, enabled, db):
    assert adapter.register(" ﬁnn ", GOOD, " Finn@EXAMPLE.com ") == "ok"
    user = User.objects.get()
    assert (user.username, user.email) == ("finn", "Finn@example.com")


def test_resend_finds_the_account_by_any_form_of_its_address(gql, settings, db):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    registration.register(None, username="finn", password=GOOD, email="finn@example.com")
    mail.outbox.clear()
    query = "mutation($e: String!) { resendConfirmationEmail(email: $e) { __typename } }"
    for variant in ["ﬁnn@example.com", "ＦＩＮＮ@EXAMPLE.COM", " finn@example.com "]:
        assert gql(query, {"e": variant})["data"]["resendConfirmationEmail"]["__typename"] == "ResendResult"
    assert [m.to for m in mail.outbox] == [["finn@example.com"]] * 3



def test_both_spellings_of_an_internationalised_domain_are_one_address(adapter, enabled, db):
    assert adapter.register("alice", GOOD, "alice@exämple.com") == "ok"
    assert adapter.register("frank", GOOD, "alice@xn--exmple-cua.com") == {
        "email": ["A user with that email already exists."]}
