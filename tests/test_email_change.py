"""changeEmail / ``email/change/`` (API.md §10), through GraphQL (sync, async) and REST alike.

Without ``REGISTRATION_EMAIL_CONFIRM`` the address changes at once; with it,
only when the link mailed to the new address is used through ``confirmEmail``
(or the REST link), and the old address gets a notice.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection

from gql_authtoken import clock, email_confirmation, inputs, signals, tokens
from gql_authtoken.accounts import email_change, registration
from gql_authtoken.exceptions import InvalidConfirmationToken, ValidationFailed
from gql_authtoken.models import ConfirmationPurpose, EmailConfirmationToken

from .adapters import CHANGE_EMAIL
from .conftest import PASSWORD, GraphQLClient
from .test_inputs import NUL_AND_SURROGATES, Operation, answers, rest_answer, rest_json
from .test_subscriptions import server  # noqa: F401  (the fixture: the test project served over ASGI)

User = get_user_model()
NEW = "alice@new.example.com"
CONFIRM = {"REGISTRATION_EMAIL_CONFIRM": True, "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"}}


def link_from(message) -> str:
    return re.search(r"/auth/register/confirm/([^/\s]+)/", message.body).group(1)


def address_of(user) -> str:
    user.refresh_from_db()
    return user.email


@pytest.fixture
def confirming(settings):
    settings.GQL_AUTHTOKEN = CONFIRM


@pytest.fixture
def requested(confirming, user, login_token, adapter):
    """alice asked to move to NEW through ``adapter``; the link mailed there."""
    assert adapter.change_email(login_token, PASSWORD, NEW) == "confirm"
    [link_mail] = [m for m in mail.outbox if m.to == [NEW]]
    return link_from(link_mail)


# --- without confirmation: at once --------------------------------------------------------------


def test_without_confirmation_the_address_changes_at_once_and_sessions_stay(adapter, user, login_token):
    other = tokens.issue_token(user).token
    assert adapter.change_email(login_token, PASSWORD, NEW) == "changed"
    assert address_of(user) == NEW
    assert not mail.outbox and not EmailConfirmationToken.objects.exists()
    assert adapter.check(login_token) == "ok" and adapter.check(other) == "ok"


def test_the_new_address_is_normalised_as_register_normalises_it(adapter, user, login_token):
    assert adapter.change_email(login_token, PASSWORD, "  Alice@NEW.Example.COM ") == "changed"
    assert address_of(user) == "Alice@new.example.com"


def test_wrong_password(adapter, user, login_token):
    assert adapter.change_email(login_token, "wrong", NEW) == {"password": ["Your password was entered incorrectly."]}
    assert address_of(user) == "alice@example.com"


def test_wrong_password_says_nothing_about_the_address(adapter, user, other_user, login_token):
    outcome = adapter.change_email(login_token, "wrong", "BOB@example.com")
    assert outcome == {"password": ["Your password was entered incorrectly."]}


def test_an_address_another_account_has_in_any_case_is_taken(adapter, user, other_user, login_token):
    assert adapter.change_email(login_token, PASSWORD, "BOB@example.com") == {
        "new_email": ["A user with that email already exists."]}
    assert address_of(user) == "alice@example.com"


def test_invalid_and_empty_values(adapter, user, login_token):
    assert adapter.change_email(login_token, PASSWORD, "not-an-email") == {
        "new_email": ["Enter a valid email address."]}
    assert adapter.change_email(login_token, "", "") == {
        "password": ["This field is required."], "new_email": ["This field is required."]}
    assert adapter.change_email(login_token, PASSWORD, "   ") == {"new_email": ["This field is required."]}
    assert address_of(user) == "alice@example.com"


def test_needs_a_live_token(adapter, user, login_token):
    assert adapter.change_email(None, PASSWORD, NEW) == "not_authenticated"
    tokens.revoke_all_tokens(user)
    assert adapter.change_email(login_token, PASSWORD, NEW) == "invalid_token"
    assert address_of(user) == "alice@example.com"


def test_graphql_codes_and_field_names(gql, user, other_user, login_token):
    """GraphQL names the field as its argument (``newEmail``), REST as its key (``new_email``)."""
    def messages(password, new_email):
        result = gql(CHANGE_EMAIL, {"password": password, "newEmail": new_email}, token=login_token)
        return [(m["field"], m["code"]) for m in result["data"]["changeEmail"]["messages"]]

    assert messages("wrong", NEW) == [("password", "invalid_password")]
    assert messages(PASSWORD, "bob@EXAMPLE.com") == [("newEmail", "unique")]
    assert messages(PASSWORD, "nope") == [("newEmail", "invalid")]
    assert messages("", "") == [("password", "required"), ("newEmail", "required")]


def test_rest_codes_and_field_names(user, other_user, login_token):
    def codes(values):
        return rest_answer(rest_json("post", "/auth/email/change/", values, login_token))

    assert codes({"password": "wrong", "new_email": NEW}) == ("password:invalid_password",)
    assert codes({"password": PASSWORD, "new_email": "bob@example.com"}) == ("new_email:unique",)
    assert codes({}) == ("new_email:required", "password:required")
    # Without the trailing slash too (durin-style clients).
    response = rest_json("post", "/auth/email/change", {"password": PASSWORD, "new_email": NEW}, login_token)
    assert response.status_code == 200 and response.json() == {"success": True, "email_confirmation_required": False}


def test_the_users_cached_copies_show_the_new_address(gql, user, login_token):
    """No session ends, but the token cache serves the new address at once (``user_saved``)."""
    me = "{ me { email } }"
    assert gql(me, token=login_token)["data"]["me"] == {"email": "alice@example.com"}  # now cached
    gql(CHANGE_EMAIL, {"password": PASSWORD, "newEmail": NEW}, token=login_token)
    assert gql(me, token=login_token)["data"]["me"] == {"email": NEW}


def test_a_cached_user_overwrites_nothing_else(user, login_token):
    stale = tokens.authenticate_token(login_token).user  # as the request saw it
    User.objects.filter(pk=user.pk).update(first_name="Alicia")
    email_change.change_email(None, stale, password=PASSWORD, new_email=NEW)
    user.refresh_from_db()
    assert (user.email, user.first_name) == (NEW, "Alicia")


# --- inputs --------------------------------------------------------------------------------------


def rest_change_email(values, token):
    return rest_answer(rest_json("post", "/auth/email/change/", values, token))


CHANGE = Operation("changeEmail", {"password": "String!", "newEmail": "String!"},
                   {"password": PASSWORD, "newEmail": NEW},
                   lambda values, token: rest_change_email(
                       {"password": values["password"], "new_email": values["newEmail"]}, token))
TOO_LONG = {"password": "p" * (inputs.PASSWORD_MAX_LENGTH + 1), "newEmail": "e" * 300 + "@example.com"}


@pytest.mark.parametrize("argument", ["password", "newEmail"])
@pytest.mark.parametrize("bad", [*NUL_AND_SURROGATES, None], ids=[*map(ascii, NUL_AND_SURROGATES), "too-long"])
def test_refused_values_are_field_errors_and_change_nothing(user, login_token, argument, bad):
    value = TOO_LONG[argument] if bad is None else bad
    found = answers(CHANGE, {**CHANGE.good, argument: value}, login_token, rollback=False)
    field = {"password": "password", "newEmail": "new_email"}[argument]
    expected = (f"{'newEmail' if field == 'new_email' else field}:invalid",)
    assert found == {"sync": expected, "async": expected, "rest": (f"{field}:invalid",)}
    assert address_of(user) == "alice@example.com" and not mail.outbox


def test_an_address_that_nfkc_lengthens_past_the_limit_is_refused(user, login_token):
    # "ⅷ" (one character) is "viii" after NFKC: 251 characters become 254 + 3.
    address = "ⅷ" + "a" * (254 - len("@example.com") - 1) + "@example.com"
    assert len(address) == 254
    found = answers(CHANGE, {**CHANGE.good, "newEmail": address}, login_token)
    assert found == {"sync": ("newEmail:invalid",), "async": ("newEmail:invalid",), "rest": ("new_email:invalid",)}


# --- throttling ----------------------------------------------------------------------------------


def test_throttled_per_account_across_addresses(adapter, settings, user, login_token):
    settings.GQL_AUTHTOKEN = {"ACCOUNT_THROTTLE_RATE": "2/hour"}
    assert adapter.change_email(login_token, "wrong", NEW) == {"password": ["Your password was entered incorrectly."]}
    assert adapter.at("10.0.0.2").change_email(login_token, "wrong", NEW) != "throttled"
    # A third guess of the password from yet another address: the account's bucket is full.
    assert adapter.at("10.0.0.3").change_email(login_token, PASSWORD, NEW) == "throttled"
    assert address_of(user) == "alice@example.com"


def test_throttled_per_ip_across_accounts(adapter, settings, user, other_user, login_token):
    settings.GQL_AUTHTOKEN = {"ACCOUNT_THROTTLE_RATE": "2/hour"}
    bob = tokens.issue_token(other_user).token
    assert adapter.change_email(login_token, "wrong", NEW) != "throttled"
    assert adapter.change_email(bob, "wrong", NEW) != "throttled"
    assert adapter.change_email(bob, PASSWORD, "bob@new.example.com") == "throttled"
    assert adapter.at("10.0.0.2").change_email(bob, PASSWORD, "bob@new.example.com") == "changed"


def test_graphql_aliases_count_one_each(gql, settings, user, login_token):
    settings.GQL_AUTHTOKEN = {"ACCOUNT_THROTTLE_RATE": "2/hour"}
    query = "mutation { %s }" % " ".join(
        f'a{i}: changeEmail(password: "wrong", newEmail: "{NEW}") {{ ... on OperationInfo {{ messages {{ code }} }} }}'
        for i in range(3))
    data = gql(query, token=login_token)["data"]
    assert [data[f"a{i}"]["messages"][0]["code"] for i in range(3)] == [
        "invalid_password", "invalid_password", "throttled"]


# --- with confirmation: the link mailed to the new address ---------------------------------------


def test_confirmed_through_the_link_mailed_to_the_new_address(adapter, requested, user, login_token):
    assert address_of(user) == "alice@example.com"  # nothing changed yet
    link_mail, notice = sorted(mail.outbox, key=lambda m: m.to != [NEW])
    assert link_mail.to == [NEW] and link_mail.subject == "Confirm your email address"
    assert notice.to == ["alice@example.com"] and notice.subject == "Your email address is being changed"
    assert NEW in notice.body and "/auth/register/confirm/" not in notice.body  # the notice carries no link
    row = EmailConfirmationToken.objects.get()
    assert (row.email, row.purpose, row.confirmed) == (NEW, ConfirmationPurpose.EMAIL_CHANGE, None)
    confirmed = []
    signals.email_confirmed.connect(lambda **kw: confirmed.append((kw["user"].pk, kw["email"])),
                                    weak=False, dispatch_uid="t-change")
    try:
        assert adapter.confirm_email(requested) == "ok"
    finally:
        signals.email_confirmed.disconnect(dispatch_uid="t-change")
    assert address_of(user) == NEW and confirmed == [(user.pk, NEW)]
    assert email_confirmation.is_email_confirmed(user)
    assert adapter.check(login_token) == "ok"  # no session ends
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"  # single use


def test_graphql_confirm_answers_the_user_with_the_new_address(gql, confirming, user, login_token):
    gql(CHANGE_EMAIL, {"password": PASSWORD, "newEmail": NEW}, token=login_token)
    [link_mail] = [m for m in mail.outbox if m.to == [NEW]]
    query = "mutation($t: String!) { confirmEmail(token: $t) { ... on ConfirmEmailResult { success user { email } } } }"
    assert gql(query, {"t": link_from(link_mail)})["data"]["confirmEmail"] == {"success": True, "user": {"email": NEW}}


def test_the_link_for_the_old_address_does_not_change_it(adapter, confirming, user, login_token):
    """A link of the old address (the admin action's) confirms that address only and leaves the
    change waiting; once the change is made, it is stale."""
    email_confirmation.send_confirmation_email(user)
    old_link = link_from(mail.outbox.pop())
    assert adapter.change_email(login_token, PASSWORD, NEW) == "confirm"
    [change_link] = [link_from(m) for m in mail.outbox if m.to == [NEW]]
    assert adapter.confirm_email(old_link) == "ok"
    assert address_of(user) == "alice@example.com"
    assert adapter.confirm_email(change_link) == "ok"
    assert address_of(user) == NEW


def test_an_old_address_link_is_refused_after_the_change(adapter, confirming, user, login_token):
    email_confirmation.send_confirmation_email(user)
    old_link = link_from(mail.outbox.pop())
    assert adapter.change_email(login_token, PASSWORD, NEW) == "confirm"
    [change_link] = [link_from(m) for m in mail.outbox if m.to == [NEW]]
    assert adapter.confirm_email(change_link) == "ok"
    assert adapter.confirm_email(old_link) == "invalid_confirmation_token"
    assert address_of(user) == NEW


def test_the_link_expires(adapter, requested, user, settings, monkeypatch):
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@example.com"


def test_the_newest_request_wins(adapter, requested, user, login_token):
    assert adapter.change_email(login_token, PASSWORD, "alice@third.example.com") == "confirm"
    [newest] = [link_from(m) for m in mail.outbox if m.to == ["alice@third.example.com"]]
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@example.com"
    assert adapter.confirm_email(newest) == "ok"
    assert address_of(user) == "alice@third.example.com"


def test_an_address_taken_meanwhile_is_refused(adapter, requested, user):
    User.objects.create_user("carol", NEW.upper(), PASSWORD)
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@example.com"
    assert not EmailConfirmationToken.objects.exists()  # the refused link is gone


def test_a_password_change_or_a_deactivation_cancels_the_change(adapter, requested, user):
    user.set_password("another-Strong-passphrase-7")
    user.save()
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@example.com"



def test_change_password_cancels_the_change_and_keeps_this_session(adapter, requested, user, login_token):
    """changePassword revokes the other sessions itself (keeping this one); a change of
    address asked for before it dies all the same."""
    assert adapter.change_password(login_token, PASSWORD, "another-Strong-passphrase-7")[0] == "ok"
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@example.com"
    assert adapter.check(login_token) == "ok"

def test_never_for_an_inactive_account(confirming, user, login_token):
    email_change.change_email(None, user, password=PASSWORD, new_email=NEW)
    link = link_from(next(m for m in mail.outbox if m.to == [NEW]))
    User.objects.filter(pk=user.pk).update(is_active=False)  # bypassing save(): the link is still there
    with pytest.raises(InvalidConfirmationToken):
        registration.confirm_email(None, link)
    user.refresh_from_db()
    assert (user.email, user.is_active) == ("alice@example.com", False)


@pytest.mark.parametrize("how", ["save", "admin"])
def test_a_new_address_set_otherwise_cancels_the_change(adapter, requested, user, admin_client, how):
    """An administrator (or code) sets another address: the link asked for before must not
    overwrite it afterwards."""
    if how == "save":
        user.email = "alice@admin-set.example.com"
        user.save()
    else:
        from django.urls import reverse

        url = reverse("admin:auth_user_change", args=[user.pk])
        form = {"username": user.username, "email": "alice@admin-set.example.com", "is_active": "on",
                "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
        assert admin_client.post(url, form).status_code == 302
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == "alice@admin-set.example.com"


def test_deactivation_through_save_deletes_the_link(confirming, user):
    email_change.change_email(None, user, password=PASSWORD, new_email=NEW)
    user.is_active = False
    user.save()
    assert not EmailConfirmationToken.objects.filter(purpose=ConfirmationPurpose.EMAIL_CHANGE).exists()


def test_an_email_change_link_completes_no_pending_registration(settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM, "REGISTRATION_ENABLED": True}  # no model field: pending users log in
    carol = registration.register(None, username="carol", password=PASSWORD, email="carol@example.com").user
    mail.outbox.clear()
    email_change.change_email(None, carol, password=PASSWORD, new_email="carol@new.example.com")
    link = link_from(next(m for m in mail.outbox if m.to == ["carol@new.example.com"]))
    registration.confirm_email(None, link)
    carol.refresh_from_db()
    assert carol.email == "carol@new.example.com"
    assert email_confirmation.is_pending_registration(carol)  # still waits for a registration link
    registration.resend_confirmation_email(None, "carol@new.example.com")
    registration.confirm_email(None, link_from(mail.outbox[-1]))
    assert not email_confirmation.is_pending_registration(carol)


@pytest.mark.parametrize("address", ["alice@example.com", "ALICE@example.com"], ids=["same", "case-changed"])
def test_asking_for_the_own_address_cancels_the_pending_change(adapter, requested, user, login_token, address):
    """brk88: the newest request wins also when it keeps the current mailbox (answered at once,
    no link): the link asked for before it no longer changes the address."""
    assert adapter.change_email(login_token, PASSWORD, address) == "changed"
    assert adapter.confirm_email(requested) == "invalid_confirmation_token"
    assert address_of(user) == address


def test_a_case_change_of_the_own_address_needs_no_link(adapter, confirming, user, login_token):
    assert adapter.change_email(login_token, PASSWORD, "Alice@example.com") == "changed"
    assert address_of(user) == "Alice@example.com" and not mail.outbox


def test_mails_in_the_language_of_the_request(confirming, user, login_token):
    GraphQLClient("sync")(CHANGE_EMAIL, {"password": PASSWORD, "newEmail": NEW}, token=login_token,
                          Accept_Language="de")
    notice = next(m for m in mail.outbox if m.to == ["alice@example.com"])
    assert notice.subject == "Ihre E-Mail-Adresse wird geändert"
    assert NEW in notice.body


def test_a_mail_failure_is_logged_and_leaves_no_link(confirming, user, login_token, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(email_confirmation, "send_mail", down)
    result = email_change.change_email(None, user, password=PASSWORD, new_email=NEW)
    assert result.email_confirmation_required
    assert not EmailConfirmationToken.objects.exists()
    assert "Could not send the email change link" in caplog.text


def test_the_rest_link_page_confirms_a_change(requested, user):
    """The mailed link's page (its button POSTs) works for a change as for a registration."""
    from django.test import Client

    client = Client()
    assert client.get(f"/auth/register/confirm/{requested}/").status_code == 200
    assert address_of(user) == "alice@example.com"
    response = client.post(f"/auth/register/confirm/{requested}/")
    assert response.status_code == 302 and address_of(user) == NEW


# --- the core directly ---------------------------------------------------------------------------


def test_the_core_raises_field_errors_by_its_own_names(user):
    with pytest.raises(ValidationFailed) as failed:
        email_change.change_email(None, user, password=PASSWORD, new_email="x")
    assert [(e.field, e.code) for e in failed.value.field_errors()] == [("new_email", "invalid")]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
def test_two_accounts_moving_to_one_address_at_once_one_wins(transactional_db, monkeypatch):
    import threading

    from gql_authtoken import identities

    from .test_registration_concurrency import run_together, wait_at

    alice = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    bob = User.objects.create_user("bob", "bob@example.com", PASSWORD)
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_change, "address_errors", wait_at(barrier, email_change.address_errors))
    users = iter([alice, bob])
    lock = threading.Lock()

    def move():
        with lock:
            user = next(users)
        return email_change.change_email(None, user, password=PASSWORD, new_email=NEW.upper())

    outcomes = run_together(move)
    assert sorted(type(o).__name__ for o in outcomes) == ["EmailChange", "ValidationFailed"], outcomes
    assert User.objects.filter(email__iexact=NEW).count() == 1
    assert identities.email_in_use(NEW)


# --- over a WebSocket ----------------------------------------------------------------------------


def test_over_a_websocket_with_confirmation(server, user, settings):  # noqa: F811  (the imported fixture)
    from .test_subscriptions import connected, execute

    settings.GQL_AUTHTOKEN = CONFIRM
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        changed = execute(ws, CHANGE_EMAIL, {"password": PASSWORD, "newEmail": NEW})["data"]["changeEmail"]
        assert changed == {"__typename": "ChangeEmailResult", "success": True, "emailConfirmationRequired": True}
        wrong = execute(ws, CHANGE_EMAIL, {"password": "wrong", "newEmail": NEW}, id="2")["data"]["changeEmail"]
        assert wrong["messages"][0]["code"] == "invalid_password"
        link = link_from(next(m for m in mail.outbox if m.to == [NEW]))
        confirm = execute(ws, "mutation($t: String!) { confirmEmail(token: $t) "
                              "{ ... on ConfirmEmailResult { user { email } } } }", {"t": link}, id="3")
        assert confirm["data"]["confirmEmail"] == {"user": {"email": NEW}}
        assert execute(ws, "{ me { email } }", id="4")["data"]["me"] == {"email": NEW}  # the socket lives on


def test_throttled_over_a_websocket(server, user, settings):  # noqa: F811
    from .test_subscriptions import connected, execute

    settings.GQL_AUTHTOKEN = {"ACCOUNT_THROTTLE_RATE": "1/hour"}
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        codes = [execute(ws, CHANGE_EMAIL, {"password": "wrong", "newEmail": NEW}, id=str(i))
                 ["data"]["changeEmail"]["messages"][0]["code"] for i in range(2)]
    assert codes == ["invalid_password", "throttled"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
def test_two_links_for_one_address_used_at_once_one_wins(transactional_db, settings, monkeypatch):
    import queue
    import threading

    from .test_registration_concurrency import run_together, wait_at

    settings.GQL_AUTHTOKEN = CONFIRM
    for name in ("alice", "bob"):
        person = User.objects.create_user(name, f"{name}@example.com", PASSWORD)
        email_change.change_email(None, person, password=PASSWORD, new_email=NEW)
    links = queue.SimpleQueue()
    for message in mail.outbox:
        if message.to == [NEW]:
            links.put(link_from(message))
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_confirmation, "is_stale", wait_at(barrier, email_confirmation.is_stale))
    outcomes = run_together(lambda: registration.confirm_email(None, links.get()))
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidConfirmationToken", "User"], outcomes
    assert User.objects.filter(email=NEW).count() == 1



def test_graphql_change_email_needs_a_token_not_a_session_login(user):
    """A Django session (the admin's login) is no token: changeEmail answers as changePassword does."""
    from django.test import Client as DjangoClient

    browser = DjangoClient()
    browser.force_login(user)
    response = browser.post("/graphql/sync/", {"query": CHANGE_EMAIL, "variables": {"password": PASSWORD,
                                                                                  "newEmail": NEW}},
                            content_type="application/json")
    result = response.json()["data"]["changeEmail"]
    assert result["__typename"] == "OperationInfo"
    assert [m["code"] for m in result["messages"]] == ["not_authenticated"]
    assert address_of(user) == "alice@example.com"
