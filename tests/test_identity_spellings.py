"""Every spelling of one identity is one identity, the same on SQLite and PostgreSQL.

Usernames and addresses are compared by ``identities.fold`` (computed in Python:
SQLite's ``LIKE`` folds only ASCII, PostgreSQL's ``UPPER()`` leaves ``ß``
alone), and an address's domain is normalised as Django's mailer encodes it,
so characters that IDNA maps away (zero-width space, soft hyphen) and ``ß``
(IDNA 2003: ``ss``) make no second account of one mailbox.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from gql_authtoken import identities
from gql_authtoken.accounts import registration

from .conftest import PASSWORD
from .test_registration import CONFIRM_ACTIVE, ENABLED, GOOD

User = get_user_model()

TAKEN_USERNAME = {"username": ["A user with that username already exists."]}
TAKEN_EMAIL = {"email": ["A user with that email already exists."]}
INVALID_EMAIL = {"email": ["Enter a valid email address."]}

# Pairs that are one identity: case outside ASCII (SQLite folds none of it),
# ß/ẞ (PostgreSQL's UPPER leaves ß as it is), the dotless and dotted i (both
# databases differ from each other), title-case digraphs, Greek final sigma.
CASE_PAIRS = [
    ("ärger", "ÄRGER"),
    ("élan", "Élan"),
    ("οδος", "ΟΔΟΣ"),
    ("ǆemal", "Ǆemal"),
    ("ǅemal", "ǆemal"),
    ("kim", "kım"),
    ("kim", "KİM"),
    ("straße", "STRAẞE"),
    ("straße", "strasse"),
    ("ß", "ẞ"),
    ("élan", "e\u0301lan"),  # composed and decomposed
    ("jürgen", "JU\u0308RGEN"),
]


@pytest.fixture
def enabled(settings):
    settings.GQL_AUTHTOKEN = ENABLED


# --- the functions --------------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), CASE_PAIRS)
def test_fold_makes_one_key_of_every_spelling(one, other):
    assert identities.fold(one) == identities.fold(other)


@pytest.mark.parametrize(("one", "other"), [("kim", "kin"), ("élan", "elan"), ("straße", "strase"),
                                            ("alice", "alíce")])
def test_fold_keeps_different_names_apart(one, other):
    assert identities.fold(one) != identities.fold(other)


@pytest.mark.parametrize("invisible", ["\u200b", "\u00ad", "\u200d", "\ufeff", "\u2060", "\ufe0f", "\U000e0041"])
def test_fold_ignores_default_ignorable_code_points(invisible):
    assert identities.fold(f"ali{invisible}ce") == identities.fold("alice")


@pytest.mark.parametrize(("typed", "stored"), [
    ("alice@example.com\u200b", "alice@example.com"),
    ("alice@exam\u200bple.com", "alice@example.com"),
    ("alice@exam\u00adple.com", "alice@example.com"),
    ("ALICE@EXAMPLE.COM\u200b", "ALICE@example.com"),
    ("someone@straße.de", "someone@strasse.de"),
    ("someone@STRAẞE.de", "someone@strasse.de"),
    ("alice@EXÄMPLE.com", "alice@exämple.com"),
    ("alice@xn--exmple-cua.com", "alice@exämple.com"),
    ("a@b..c", "a@b..c"),  # the codec refuses it (and so does validate_email): as typed
])
def test_normalize_email_gives_the_domain_the_mailer_sends_to(typed, stored):
    assert identities.normalize_email(typed) == stored
    try:
        wire = as_mailed(typed)
    except ValueError:
        return
    assert wire.lower() == as_mailed(stored).lower()  # one mailbox, one spelling


def as_mailed(address: str) -> str:
    """``address`` as Django's mailer writes it in a message's To header (its domain encoded as
    the SMTP backend sends it)."""
    return str(mail.EmailMessage(to=[address]).message()["To"])


def test_few_rows_are_compared_in_python(db, monkeypatch):
    """The database narrows the rows: unrelated accounts are not folded one by one."""
    for i in range(30):
        User.objects.create_user(f"user{i}", f"user{i}@example.com")
    User.objects.create_user("jürgen", "jürgen@example.com")
    compared = []
    real_fold = identities.fold
    monkeypatch.setattr(identities, "fold", lambda value: compared.append(value) or real_fold(value))
    assert identities.email_in_use("JÜRGEN@EXAMPLE.COM")
    assert identities.username_in_use("user7")
    assert not identities.username_in_use("user77")
    assert len(compared) < 10, compared


@pytest.mark.parametrize("name", ["a.b+c-d", "a_b%c", "[x]", "^a$", "a\\b", "a|b", "(a)"])
def test_names_with_pattern_characters_are_matched_literally(db, name):
    User.objects.create_user(name)
    assert identities.username_in_use(name.upper())
    assert not identities.username_in_use(name + "z")


# --- register: one account per identity, on both databases ------------------------


@pytest.mark.parametrize(("first", "second"), CASE_PAIRS)
def test_case_variants_outside_ascii_are_one_username(adapter, enabled, db, first, second):
    assert adapter.register(first, GOOD) == "ok"
    assert adapter.register(second, GOOD) == TAKEN_USERNAME
    assert User.objects.count() == 1


@pytest.mark.parametrize(("first", "second"), CASE_PAIRS)
def test_case_variants_outside_ascii_are_one_address(db, first, second):
    """Django's ``validate_email`` takes only ASCII before the @, but an account made
    elsewhere may have more; its address is found in every spelling."""
    account = User.objects.create_user("one", f"{first}@example.com")
    assert identities.email_in_use(f"{second}@example.com")
    assert identities.find_account_by_email(f"{second}@EXAMPLE.com") == account


def test_an_account_made_elsewhere_is_found_in_any_case(adapter, enabled, db):
    """Accounts the admin or a script made (not through ``register``) are compared the same way."""
    User.objects.create_user("ÄRGER")
    User.objects.filter(username="ÄRGER").update(email="person@STRAẞE.de")  # not normalised
    assert adapter.register("ärger", GOOD) == TAKEN_USERNAME
    assert adapter.register("other", GOOD, "person@strasse.de") == TAKEN_EMAIL


@pytest.mark.parametrize("variant", [
    "alice@example.com\u200b", "alice@exam\u200bple.com", "alice@exam\u00adple.com",
    "ALICE@EXAMPLE.COM\u200b", "alice@EXAM\u00adPLE.COM", "alice@example.com\ufeff",
])
def test_invisible_characters_in_the_domain_make_no_second_account(adapter, enabled, user, variant):
    assert adapter.register("carol", GOOD, variant) == TAKEN_EMAIL


def test_one_mail_domain_in_two_idna_spellings_is_one_address(adapter, enabled, db):
    assert adapter.register("one", GOOD, "someone@strasse.de") == "ok"
    assert adapter.register("two", GOOD, "someone@straße.de") == TAKEN_EMAIL
    assert adapter.register("three", GOOD, "SOMEONE@STRAẞE.DE") == TAKEN_EMAIL


def test_the_address_is_stored_as_the_mailer_sends_to_it(adapter, enabled, db):
    assert adapter.register("one", GOOD, "Someone@Straße.de\u200b") == "ok"
    assert User.objects.get().email == "Someone@strasse.de"


@pytest.mark.parametrize("local", ["ali\u200bce", "alice\u200b", "ali\u00adce", "\ufeffalice", "ali\u2060ce",
                                   "alice\ufe0f"])
def test_invisible_characters_in_the_local_part_are_invalid(adapter, enabled, db, local):
    """Not the same mailbox to a mail server, but the same to a reader: refused, never stored."""
    assert adapter.register("carol", GOOD, f"{local}@example.com") == INVALID_EMAIL
    assert not User.objects.exists()


@pytest.mark.parametrize("name", ["carol\u3164", "car\u115fol", "carol\uffa0"])
def test_invisible_characters_in_a_username_are_invalid(gql, enabled, db, name):
    """Hangul fillers are letters to ``\\w`` (Django's username validator) but show as nothing."""
    from .adapters import REGISTER

    result = gql(REGISTER, {"username": name, "password": GOOD})["data"]["register"]
    assert [(m["field"], m["code"]) for m in result["messages"]] == [("username", "invalid")]
    assert not User.objects.exists()


# --- the other operations take the same spellings ---------------------------------


def test_resend_and_reset_reach_the_account_through_the_same_domain_spellings(gql, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "PASSWORD_RESET_URL": "https://app.example.com/reset/{token}"}
    registration.register(None, username="finn", password=GOOD, email="finn@strasse.de")
    mail.outbox.clear()
    resend = "mutation($e: String!) { resendConfirmationEmail(email: $e) { __typename } }"
    for variant in ["finn@straße.de", "FINN@STRAẞE.DE\u200b", "finn@stras\u00adse.de"]:
        assert gql(resend, {"e": variant})["data"]["resendConfirmationEmail"]["__typename"] == "ResendResult"
    assert [m.to for m in mail.outbox] == [["finn@strasse.de"]] * 3


def test_password_reset_reaches_the_account_through_any_spelling(adapter, settings, user):
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": "https://app.example.com/reset/{token}"}
    User.objects.filter(pk=user.pk).update(email="jürgen@strasse.de")
    for variant in ["JÜRGEN@STRAẞE.DE", "ju\u0308rgen@stras\u00adse.de\u200b"]:
        mail.outbox.clear()
        assert adapter.send_password_reset_email(variant) == "ok"
        assert [m.to for m in mail.outbox] == [["jürgen@strasse.de"]], variant


@pytest.mark.parametrize(("new_email", "outcome"), [
    ("bob@example.com\u200b", {"new_email": ["A user with that email already exists."]}),
    ("bob@exam\u00adple.com", {"new_email": ["A user with that email already exists."]}),
    ("BOB@EXAMPLE.COM", {"new_email": ["A user with that email already exists."]}),
    ("bo\u200bb@example.com", {"new_email": ["Enter a valid email address."]}),
])
def test_change_email_finds_the_taken_address_in_any_spelling(adapter, user, other_user, new_email, outcome):
    from gql_authtoken import tokens

    token = tokens.issue_token(user).token
    assert adapter.change_email(token, PASSWORD, new_email) == outcome
    user.refresh_from_db()
    assert user.email == "alice@example.com"


def test_change_email_to_another_spelling_of_a_stored_address(adapter, user, other_user):
    from gql_authtoken import tokens

    User.objects.filter(pk=other_user.pk).update(email="Bob@Straße.example")  # not normalised
    token = tokens.issue_token(user).token
    assert adapter.change_email(token, PASSWORD, "bob@STRASSE.example") == {
        "new_email": ["A user with that email already exists."]}
