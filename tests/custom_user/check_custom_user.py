"""Run by tests/test_custom_user.py with ``--ds=tests.custom_user.settings`` (a swapped user model)."""

import re

import pytest
from django.core import mail

from gql_authtoken import tokens
from tests.adapters import GraphQLAdapter, RestAdapter

GOOD = "a-Strong-passphrase-42"


@pytest.fixture(params=["graphql", "rest"])
def adapter(request, settings, db):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True, "REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": "is_active",
                              "REGISTRATION_EMAIL": {"BASE_URL": "http://testserver"}}
    return GraphQLAdapter("sync") if request.param == "graphql" else RestAdapter()


def test_register_confirm_and_log_in_with_an_email_user_model(adapter):
    from tests.custom_user.models import EmailUser

    assert adapter.register("Carol@Example.com", GOOD) == "ok"
    user = EmailUser.objects.get()
    assert user.email == "Carol@example.com" and not user.is_active
    assert adapter.login("carol@example.com", GOOD)[0] == "inactive_user"
    token = re.search(r"/auth/register/confirm/([^/\s]+)/", mail.outbox[0].body).group(1)
    assert adapter.confirm_email(token) == "ok"
    assert adapter.login("carol@example.com", GOOD)[0] == "ok"


def test_username_uniqueness_goes_through_the_case_insensitive_manager(adapter):
    assert adapter.register("carol@example.com", GOOD) == "ok"
    outcome = adapter.register("CAROL@EXAMPLE.COM", GOOD)
    assert outcome == {"username": ["Email user with this Email already exists."]}


def test_invalid_email_as_username(adapter):
    assert adapter.register("not-an-email", GOOD) == {"username": ["Enter a valid email address."]}


def test_default_user_type_works_with_the_custom_model(db):
    from tests.conftest import GraphQLClient
    from tests.custom_user.models import EmailUser

    user = EmailUser.objects.create(email="dora@example.com")
    token = tokens.issue_token(user).token
    me = GraphQLClient("sync")("{ me { id username email } }", token=token)["data"]["me"]
    assert me == {"id": str(user.pk), "username": "dora@example.com", "email": "dora@example.com"}


def test_the_token_admin_searches_by_the_user_models_own_fields(db, rf):
    """The user model has no ``username``: the token list searches its USERNAME_FIELD (email)."""
    from django.contrib import admin

    from gql_authtoken.models import AuthToken
    from tests.custom_user.models import EmailUser

    carol = EmailUser.objects.create(email="carol@example.com")
    tokens.issue_token(carol)
    model_admin = admin.site._registry[AuthToken]
    request = rf.get("/admin/gql_authtoken/authtoken/", {"q": "carol"})
    assert model_admin.get_search_fields(request) == ["user__email"]
    found, _ = model_admin.get_search_results(request, AuthToken.objects.all(), "carol")
    assert [token.user for token in found] == [carol]
    assert not model_admin.get_search_results(request, AuthToken.objects.all(), "nobody")[0].exists()


# --- one account per address in any case or form (issue 10, items 2 and 3) --------------


def test_case_variants_of_the_address_are_one_account_whatever_the_manager(adapter, monkeypatch):
    """A case-sensitive ``get_by_natural_key`` (Django's own) does not make two accounts of one address."""
    from django.contrib.auth.base_user import BaseUserManager

    from tests.custom_user.models import EmailUser, EmailUserManager

    monkeypatch.setattr(EmailUserManager, "get_by_natural_key", BaseUserManager.get_by_natural_key)
    assert adapter.register("Someone@Example.COM", GOOD) == "ok"
    taken = {"username": ["Email user with this Email already exists."]}
    variants = ["someone@example.com", "SOMEONE@EXAMPLE.COM", "ｓｏｍｅｏｎｅ@example.com", " someone@Example.com "]
    for variant in variants:
        assert adapter.register(variant, GOOD) == taken, variant
    assert EmailUser.objects.get().email == "Someone@example.com"


def test_log_in_with_the_address_as_it_was_typed(adapter):
    from tests.custom_user.models import EmailUser

    assert adapter.register("ＤＯＲＡ@Example.com", GOOD) == "ok"
    user = EmailUser.objects.get()
    assert user.email == "DORA@example.com"
    user.is_active = True  # confirmed
    user.save()
    for typed in ["ＤＯＲＡ@Example.com", "DORA@example.com", "dora@EXAMPLE.COM", " ｄｏｒａ@example.com "]:
        assert adapter.login(typed, GOOD)[0] == "ok", typed


def test_every_spelling_that_reaches_the_account_shares_its_failure_bucket(adapter, settings):
    """The manager folds case (``__iexact``): on PostgreSQL ``UPPER()`` also maps the
    dotless ``ı`` onto ``I``, so ``alıce@…`` is Alice's account and shares her bucket."""
    from django.db import connection

    from tests.custom_user.models import EmailUser

    settings.GQL_AUTHTOKEN = {"LOGIN_ACCOUNT_THROTTLE_RATE": "5/hour"}
    alice = EmailUser(email="alice@example.com")
    alice.set_password(GOOD)
    alice.save()
    variants = ["ALICE@example.com", "Alice@EXAMPLE.com", "ａｌｉｃｅ@example.com", "aLiCe@example.com",
                "alıce@example.com" if connection.vendor == "postgresql" else "alicE@example.com"]
    for i, variant in enumerate(variants):
        assert adapter.at(f"198.51.100.{i}").login(variant, "wrong")[0] == "invalid_credentials", variant
    assert adapter.at("192.0.2.1").login("alice@example.com", GOOD)[0] == "throttled"
    assert adapter.at("192.0.2.1").login(variants[-1], GOOD)[0] == "throttled"


# --- changing the address changes the username (issue 13) ---------------------------------


def test_changing_the_address_changes_the_username(adapter, settings):
    """The username is the address: one field, so it changes when the link is used."""
    from tests.custom_user.models import EmailUser

    dora = EmailUser(email="dora@example.com")
    dora.set_password(GOOD)
    dora.save()
    EmailUser.objects.create(email="erin@example.com")
    token = tokens.issue_token(dora).token
    assert adapter.change_email(token, GOOD, "ERIN@example.com") == {
        "new_email": ["A user with that email already exists."]}
    assert adapter.change_email(token, GOOD, "Dora@New.Example") == "confirm"
    [link_mail] = [m for m in mail.outbox if m.to == ["Dora@new.example"]]
    assert adapter.login("dora@new.example", GOOD)[0] == "invalid_credentials"  # not yet
    link = re.search(r"/auth/register/confirm/([^/\s]+)/", link_mail.body).group(1)
    assert adapter.confirm_email(link) == "ok"
    dora.refresh_from_db()
    assert dora.get_username() == dora.email == "Dora@new.example"
    assert adapter.login("dora@new.example", GOOD)[0] == "ok"
    assert adapter.login("dora@example.com", GOOD)[0] == "invalid_credentials"
    assert adapter.check(token) == "ok"


def test_without_confirmation_the_username_changes_at_once(adapter, settings):
    from tests.custom_user.models import EmailUser

    settings.GQL_AUTHTOKEN = {}
    dora = EmailUser(email="dora@example.com")
    dora.set_password(GOOD)
    dora.save()
    token = tokens.issue_token(dora).token
    assert adapter.change_email(token, GOOD, "dora@new.example") == "changed"
    assert adapter.login("dora@new.example", GOOD)[0] == "ok"
    assert EmailUser.objects.get().get_username() == "dora@new.example"


# --- one mailbox, one account (the domain as the mailer encodes it; any case) -------------


@pytest.mark.parametrize("variant", ["someone@example.com\u200b", "someone@exam\u200bple.com",
                                     "someone@exam\u00adple.com", "SOMEONE@EXAMPLE.COM\u200b"])
def test_invisible_characters_in_the_domain_make_no_second_account(adapter, variant):
    from tests.custom_user.models import EmailUser

    assert adapter.register("someone@example.com", GOOD) == "ok"
    assert adapter.register(variant, GOOD) == {"username": ["Email user with this Email already exists."]}
    assert EmailUser.objects.count() == 1


def test_an_idna_2003_spelling_of_the_domain_is_the_same_account(adapter):
    from tests.custom_user.models import EmailUser

    assert adapter.register("someone@straße.de", GOOD) == "ok"
    assert EmailUser.objects.get().email == "someone@strasse.de"  # where Django's mailer sends it
    assert adapter.register("someone@strasse.de", GOOD) == {"username": ["Email user with this Email already exists."]}
    EmailUser.objects.update(is_active=True)
    for typed in ["someone@straße.de", "someone@STRAẞE.de", "someone@strasse.de\u200b"]:
        assert adapter.login(typed, GOOD)[0] == "ok", typed


def test_invisible_characters_before_the_at_are_invalid(adapter):
    assert adapter.register("some\u200bone@example.com", GOOD) == {"username": ["Enter a valid email address."]}


def test_non_ascii_case_variants_of_a_stored_address_are_one_account(adapter):
    """An account made elsewhere with ``STRAẞE`` in its address: ``straße`` is taken (PostgreSQL's
    UPPER leaves ß alone, SQLite folds no non-ASCII case)."""
    from tests.custom_user.models import EmailUser

    EmailUser.objects.create(email="Person@STRAẞE.example")
    assert adapter.register("person@strasse.example", GOOD) == {
        "username": ["Email user with this Email already exists."]}
