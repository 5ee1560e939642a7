"""Run by tests/test_custom_user.py with ``--ds=tests.custom_user.settings`` (a swapped user model)."""

import re

import pytest
from django.contrib.auth.hashers import make_password
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


# --- a user model whose key is a UUID with a default (brk80) --------------------------------


def _built_copy(user, **changes):
    """An instance of ``user``'s row built in code (not read from the database), with ``changes``."""
    from tests.custom_user.models import EmailUser

    return EmailUser(**{**EmailUser.objects.filter(pk=user.pk).values()[0], **changes})


def _refused(token):
    from gql_authtoken.exceptions import InvalidToken

    with pytest.raises(InvalidToken):
        tokens.authenticate_token(token)
    assert RestAdapter().check(token) == "invalid_token"
    assert GraphQLAdapter("sync").check(token) == "invalid_token"


@pytest.fixture
def dora(db):
    from tests.custom_user.models import EmailUser

    user = EmailUser(email="dora@example.com")
    user.set_password(GOOD)
    user.save()
    return user


@pytest.fixture
def bystander(db):
    from tests.custom_user.models import EmailUser

    return tokens.issue_token(EmailUser.objects.create(email="erin@example.com")).token


@pytest.mark.parametrize("changes", [{"password": make_password("a-Strong-new-passphrase-42")},
                                     {"is_active": False}], ids=["new hash", "deactivated"])
def test_a_change_force_updated_from_a_built_instance_revokes(dora, bystander, changes):
    """``save(force_update=True)`` of an instance built in code: Django counts it as new (its key has
    a default) and the save signals do not say ``force_update``; the stored row is read anyway."""
    from tests.custom_user.models import EmailUser

    issued = tokens.issue_token(dora)
    _built_copy(dora, **changes).save(force_update=True)
    _refused(issued.token)
    EmailUser.objects.filter(pk=dora.pk).update(is_active=True)
    _refused(issued.token)  # API.md §8: re-activation brings no session back
    assert RestAdapter().check(bystander) == "ok"


def test_a_new_password_through_update_or_create_revokes(dora, bystander):
    from tests.custom_user.models import EmailUser

    issued = tokens.issue_token(dora)
    _, created = EmailUser.objects.update_or_create(
        pk=dora.pk, defaults={"password": make_password("a-Strong-new-passphrase-42")})
    assert not created
    _refused(issued.token)
    assert RestAdapter().check(bystander) == "ok"


def test_a_save_that_changes_nothing_watched_keeps_the_sessions(dora):
    issued = tokens.issue_token(dora)
    _built_copy(dora, display_name="Dora").save(force_update=True)
    dora.refresh_from_db()
    dora.display_name = "D."
    dora.save()
    assert tokens.authenticate_token(issued.token).user.display_name == "D."


def test_a_login_re_hash_keeps_the_sessions(dora, adapter):
    from tests.custom_user.models import EmailUser

    outdated = make_password(GOOD, salt="ab", hasher="md5")  # a salt too short: Django re-hashes it
    EmailUser.objects.filter(pk=dora.pk).update(password=outdated)
    issued = tokens.issue_token(dora)
    assert adapter.login("dora@example.com", GOOD)[0] == "ok"
    assert EmailUser.objects.get(pk=dora.pk).password != outdated
    assert tokens.authenticate_token(issued.token).user == dora


def test_a_new_user_with_a_generated_key_is_just_created(db, django_assert_max_num_queries):
    """Django INSERTs a new instance whose key has a default; the key is already set, so the row
    it might update is looked for first (one SELECT, the cost of the rule above): none, nothing revoked."""
    from tests.custom_user.models import EmailUser

    user = EmailUser(email="fay@example.com", password=make_password(GOOD))
    with django_assert_max_num_queries(2):
        user.save()
    assert EmailUser.objects.get(pk=user.pk).check_password(GOOD)
