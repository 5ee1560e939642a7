"""Passwords (API.md §10): changePassword, sendPasswordResetEmail, resetPassword.

Each scenario runs through GraphQL (sync and async views) and REST (the
``adapter`` fixture, tests/adapters.py); mails are read from Django's
local-memory backend.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from gql_authtoken import signals, tokens
from gql_authtoken.accounts import passwords
from gql_authtoken.exceptions import InvalidResetToken, ValidationFailed
from gql_authtoken.models import AuthToken

from .adapters import CHANGE_PASSWORD, RESET_PASSWORD
from .conftest import ADMINS, PASSWORD, GraphQLClient

User = get_user_model()
NEW = "a-Strong-new-passphrase-42"
RESET_URL = "https://app.example.com/reset/{token}"
WRONG_OLD = "Your old password was entered incorrectly. Please enter it again."


@pytest.fixture(autouse=True)
def reset_settings(settings):
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": RESET_URL}


def link_token(message) -> str:
    return re.search(r"https://app\.example\.com/reset/(\S+)", message.body).group(1)


def reset_token_for(adapter, email="alice@example.com"):
    sent = len(mail.outbox)
    assert adapter.send_password_reset_email(email) == "ok"
    assert len(mail.outbox) == sent + 1
    return link_token(mail.outbox[-1])


def can_log_in(username, password):
    return User.objects.get(username=username).check_password(password)


@pytest.fixture
def sent_signals():
    received = []

    def receiver(sender, **kwargs):
        received.append({"sender": sender, **kwargs})

    signals.password_changed.connect(receiver)
    yield received
    signals.password_changed.disconnect(receiver)


# --- changePassword -------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_revokes_the_others(adapter, user, other_user, login_token,
                                                                   sent_signals):
    others = [tokens.issue_token(user).token for _ in range(2)]
    bobs = tokens.issue_token(other_user).token
    assert adapter.change_password(login_token, PASSWORD, NEW) == ("ok", 2)
    assert adapter.check(login_token) == "ok"
    assert [adapter.check(t) for t in others] == ["invalid_token", "invalid_token"]
    assert adapter.check(bobs) == "ok"
    assert can_log_in("alice", NEW) and not can_log_in("alice", PASSWORD)
    [sent] = sent_signals
    assert sent["sender"] is User and sent["user"].pk == user.pk and sent["reset"] is False
    assert sent["request"] is not None


def test_change_password_with_a_wrong_old_password(adapter, user, login_token, sent_signals):
    other = tokens.issue_token(user).token
    assert adapter.change_password(login_token, "wrong", NEW) == ({"old_password": [WRONG_OLD]}, None)
    assert can_log_in("alice", PASSWORD) and adapter.check(other) == "ok"
    assert sent_signals == []


def test_change_password_runs_the_password_validators(adapter, user, login_token):
    outcome, _ = adapter.change_password(login_token, PASSWORD, "12345678")
    assert outcome == {"new_password": ["This password is too common.", "This password is entirely numeric."]}
    outcome, _ = adapter.change_password(login_token, PASSWORD, "alice-example")
    assert outcome == {"new_password": ["The password is too similar to the email address."]}
    assert can_log_in("alice", PASSWORD)


def test_change_password_reports_both_fields_at_once(adapter, user, login_token):
    outcome, _ = adapter.change_password(login_token, "wrong", "")
    assert outcome == {"old_password": [WRONG_OLD], "new_password": ["This field is required."]}


def test_change_password_needs_a_live_token(adapter, user, login_token):
    assert adapter.change_password(None, PASSWORD, NEW) == ("not_authenticated", None)
    tokens.revoke_all_tokens(user)
    assert adapter.change_password(login_token, PASSWORD, NEW) == ("invalid_token", None)
    assert can_log_in("alice", PASSWORD)


def test_change_password_codes_and_field_names_in_graphql(gql, user, login_token):
    result = gql(CHANGE_PASSWORD, {"old": "wrong", "new": "1234"}, token=login_token)["data"]["changePassword"]
    assert sorted((m["field"], m["code"]) for m in result["messages"]) == [
        ("newPassword", "password_entirely_numeric"), ("newPassword", "password_too_common"),
        ("newPassword", "password_too_short"), ("oldPassword", "invalid_password")]


def test_change_password_codes_in_rest(user, login_token):
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {login_token}")
    response = api.post("/auth/password/change", {"old_password": "wrong", "new_password": "1234"}, format="json")
    assert response.status_code == 400
    assert [d.code for d in response.data["old_password"]] == ["invalid_password"]
    assert sorted(d.code for d in response.data["new_password"]) == [
        "password_entirely_numeric", "password_too_common", "password_too_short"]
    assert APIClient().post("/auth/password/change/", {}, format="json").status_code == 401


def test_change_password_over_a_session_login_needs_a_token(client, user):
    """A session (cookie) login has no token to keep: both adapters answer not_authenticated."""
    client.force_login(user)
    response = client.post("/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW},
                           content_type="application/json")
    assert response.status_code == 401
    assert can_log_in("alice", PASSWORD)


def test_the_second_of_two_changes_with_the_same_old_password_fails(user, login_token):
    """The stored hash must still be the one the old password was checked against."""
    instance = tokens.authenticate_token(login_token)
    assert passwords.change_password(None, user, instance, old_password=PASSWORD, new_password=NEW) == 0
    with pytest.raises(ValidationFailed) as error:
        passwords.change_password(None, user, instance, old_password=PASSWORD, new_password=NEW + "!")
    assert [e.code for e in error.value.errors] == ["invalid_password"]
    assert can_log_in("alice", NEW)


def test_async_twins(user, login_token):
    instance = tokens.authenticate_token(login_token)
    other = tokens.issue_token(user).token
    assert async_to_sync(passwords.achange_password)(None, user, instance, old_password=PASSWORD,
                                                     new_password=NEW) == 1
    async_to_sync(passwords.asend_password_reset_email)(None, "alice@example.com")
    assert async_to_sync(passwords.areset_password)(None, link_token(mail.outbox[-1]), PASSWORD + "!") == 1
    assert AuthToken.objects.filter(user=user).count() == 0 and other


@pytest.mark.parametrize("field", ["old_password", "new_password"])
@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x" * 4097])
def test_refused_passwords_are_field_errors_invalid(user, login_token, field, value):
    """As for register: NUL, lone surrogates and more than 4096 characters (API.md §5 "Input")."""
    instance = tokens.authenticate_token(login_token)
    arguments = {"old_password": PASSWORD, "new_password": NEW, field: value}
    with pytest.raises(ValidationFailed) as error:
        passwords.change_password(None, user, instance, **arguments)
    assert [(e.field, e.code) for e in error.value.errors] == [(field, "invalid")]
    assert can_log_in("alice", PASSWORD)


def test_a_new_password_of_4096_characters_is_accepted(adapter, user, login_token):
    long = "Aa1-" * 1024
    assert adapter.change_password(login_token, PASSWORD, long)[0] == "ok"
    assert adapter.change_password(login_token, long, long + "x") == (
        {"new_password": ["Ensure this value has at most 4096 characters (it has 4097)."]}, None)
    assert can_log_in("alice", long)


# --- sendPasswordResetEmail -----------------------------------------------------------------


def test_reset_mail_goes_to_the_stored_address_with_a_link(adapter, user):
    assert adapter.send_password_reset_email("  ALICE@Example.COM ") == "ok"
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and message.from_email == "noreply@example.com"
    assert message.subject == "Reset your password"
    assert "Hello alice," in message.body
    token = link_token(message)
    assert "alice" not in token and not AuthToken.objects.filter(digest__contains=token).exists()


def _no_account_variants(other_user):
    inactive = User.objects.create_user("ina", "inactive@example.com", PASSWORD, is_active=False)
    unusable = User.objects.create_user("unu", "unusable@example.com")
    assert not unusable.has_usable_password() and not inactive.is_active
    return ["nobody@example.com", "inactive@example.com", "unusable@example.com", "", "not an address"]


def test_no_enumeration_same_answer_and_no_mail(adapter, user, other_user):
    """Unknown, inactive and unusable-password accounts: the answer of a known one, and no mail."""
    for email in _no_account_variants(other_user):
        assert adapter.send_password_reset_email(email) == "ok"
    assert mail.outbox == []
    assert adapter.send_password_reset_email("alice@example.com") == "ok"
    assert len(mail.outbox) == 1


def test_no_enumeration_same_work(user, db, monkeypatch):
    """Unknown addresses cost what known ones cost: the same queries, one reset token, one message rendered."""
    made, rendered, queries = [], [], []
    make_token = default_token_generator.make_token
    monkeypatch.setattr(default_token_generator, "make_token", lambda u: made.append(u) or make_token(u))
    message = mail.EmailMessage.message
    monkeypatch.setattr(mail.EmailMessage, "message", lambda self: rendered.append(self) or message(self))
    for email in ("alice@example.com", "nobody@example.com"):
        made.clear()
        rendered.clear()
        with CaptureQueriesContext(connection) as captured:
            passwords.send_password_reset_email(None, email)
        assert (len(made), len(rendered)) == (1, 1), email
        queries.append(len(captured))
    assert queries[0] == queries[1]
    assert len(mail.outbox) == 1


def test_every_account_with_the_address_gets_its_own_link(adapter, user, db):
    User.objects.create_user("alice2", "Alice@example.com", PASSWORD)
    assert adapter.send_password_reset_email("alice@example.com") == "ok"
    assert sorted(m.to[0] for m in mail.outbox) == ["Alice@example.com", "alice@example.com"]
    assert len({link_token(m) for m in mail.outbox}) == 2


def test_the_link_goes_to_the_stored_address_of_the_account_the_spelling_reaches(user, db):
    """Django's PasswordResetForm mails the stored address, never the typed one (CVE-2019-19844).
    ``mike`` and ``mıke`` (dotless i) are one identity (``identities.fold``): the account's own
    address gets the link; a spelling that folds to no account gets nothing."""
    User.objects.create_user("dotless", "mıke@example.org", PASSWORD)
    passwords.send_password_reset_email(None, "mike@example.org")
    assert [m.to for m in mail.outbox] == [["mıke@example.org"]]
    mail.outbox.clear()
    passwords.send_password_reset_email(None, "mjke@example.org")
    assert mail.outbox == []


def test_without_password_reset_url_nothing_is_sent(adapter, user, settings):
    settings.GQL_AUTHTOKEN = {}
    assert adapter.send_password_reset_email("alice@example.com") == "ok"
    assert mail.outbox == []
    assert "gql_authtoken.W007" in {m.id for m in run_checks()}


def test_a_mail_failure_still_answers_success(adapter, user, monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(mail.EmailMessage, "send", broken)
    assert adapter.send_password_reset_email("alice@example.com") == "ok"
    assert "Could not send the password reset email" in caplog.text


def test_reset_mail_in_the_requests_language_and_configured_text(adapter, user, settings):
    assert adapter.send_password_reset_email("alice@example.com", Accept_Language="de") == "ok"
    assert mail.outbox[-1].subject == "Passwort zurücksetzen"
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": RESET_URL, "PASSWORD_RESET_EMAIL": {
        "FROM": "Accounts <accounts@example.com>", "SUBJECT": "New password", "MESSAGE": "{username}: {url}"}}
    assert adapter.send_password_reset_email("alice@example.com") == "ok"
    message = mail.outbox[-1]
    assert (message.from_email, message.subject) == ("Accounts <accounts@example.com>", "New password")
    assert re.fullmatch(r"alice: https://app\.example\.com/reset/\S+", message.body)


# --- resetPassword --------------------------------------------------------------------------


def test_reset_password_revokes_every_session(adapter, user, other_user, login_token, sent_signals):
    other = tokens.issue_token(user).token
    bobs = tokens.issue_token(other_user).token
    token = reset_token_for(adapter)
    code, revoked = adapter.reset_password(token, NEW)
    assert code == "ok" and revoked in (2, None)  # REST says no count
    assert [adapter.check(t) for t in (login_token, other)] == ["invalid_token", "invalid_token"]
    assert adapter.check(bobs) == "ok"
    assert can_log_in("alice", NEW) and not can_log_in("alice", PASSWORD)
    [sent] = sent_signals
    assert sent["user"].pk == user.pk and sent["reset"] is True and sent["request"] is not None


def test_a_reset_token_works_once(adapter, user):
    token = reset_token_for(adapter)
    assert adapter.reset_password(token, NEW)[0] == "ok"
    assert adapter.reset_password(token, NEW + "!") == ("invalid_reset_token", None)
    assert can_log_in("alice", NEW)


def test_an_expired_reset_token_is_refused(adapter, user, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    token = reset_token_for(adapter)
    later = datetime.now() + timedelta(seconds=3601)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later)
    assert adapter.reset_password(token, NEW) == ("invalid_reset_token", None)
    monkeypatch.setattr(default_token_generator, "_now", lambda: later - timedelta(seconds=2))
    assert adapter.reset_password(token, NEW)[0] == "ok"


def test_a_reset_token_dies_when_the_password_changes(adapter, user, login_token):
    token = reset_token_for(adapter)
    assert adapter.change_password(login_token, PASSWORD, NEW)[0] == "ok"
    assert adapter.reset_password(token, NEW + "!") == ("invalid_reset_token", None)
    assert can_log_in("alice", NEW)


def test_a_tampered_reset_token_is_refused(adapter, user):
    token = reset_token_for(adapter)
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert adapter.reset_password(flipped, NEW) == ("invalid_reset_token", None)
    assert adapter.reset_password(token, NEW)[0] == "ok"


def test_a_reset_token_with_another_users_id_is_refused(adapter, user, other_user):
    token = reset_token_for(adapter)
    bobs_id = urlsafe_base64_encode(force_bytes(other_user.pk))
    assert adapter.reset_password(bobs_id + "." + token.partition(".")[2], NEW) == ("invalid_reset_token", None)
    assert can_log_in("bob", PASSWORD)


@pytest.mark.parametrize("spelling", [
    lambda pk: urlsafe_base64_encode(force_bytes(pk)) + "=",        # padding
    lambda pk: urlsafe_base64_encode(force_bytes(f"0{pk}")),       # a leading zero
    lambda pk: urlsafe_base64_encode(force_bytes(f" {pk}")),       # a space
    lambda pk: urlsafe_base64_encode(f"{pk}".translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")).encode()),
])
def test_a_reset_token_has_one_spelling_of_its_user_id(adapter, user, spelling):
    """Another spelling of the same id would be another link (and another throttle bucket)."""
    token = reset_token_for(adapter)
    assert adapter.reset_password(spelling(user.pk) + "." + token.partition(".")[2], NEW) == (
        "invalid_reset_token", None)
    assert adapter.reset_password(token, NEW)[0] == "ok"


def test_a_spelling_shares_the_bucket_of_the_account_it_mails(adapter, settings, user, other_user):
    """"alıce@" folds to alice's address (``identities.fold``, the same on every database): it mails
    alice's stored address and counts in her bucket. Mail and bucket always agree, so a full
    bucket tells nothing that the mail does not."""
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": RESET_URL, "ACCOUNT_THROTTLE_RATE": "4/hour"}
    for ip in ("203.0.113.1", "203.0.113.1", "203.0.113.3", "203.0.113.3"):  # at most half from one IP
        assert adapter.at(ip).send_password_reset_email("alıce@example.com") == "ok"
    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * 4
    assert adapter.at("203.0.113.2").send_password_reset_email("alice@example.com") == "throttled"


@pytest.mark.parametrize("token", ["", "x", "MQ", "MQ.", ".abc", "!!.abc-def", "MQ.a-b", "bm9wZQ.abc-def",
                                   "OTk5OTk5.abc-def", "a\x00b", "\ud800.x", "é.x", "t" * 600])
def test_malformed_reset_tokens_are_refused(adapter, user, token):
    assert adapter.reset_password(token, NEW) == ("invalid_reset_token", None)
    assert can_log_in("alice", PASSWORD)


def test_an_inactive_users_reset_token_is_refused(adapter, user):
    token = reset_token_for(adapter)
    user.is_active = False
    user.save()
    assert adapter.reset_password(token, NEW) == ("invalid_reset_token", None)


def test_a_weak_new_password_leaves_the_token_usable(adapter, user):
    token = reset_token_for(adapter)
    outcome, _ = adapter.reset_password(token, "12345678")
    assert outcome == {"new_password": ["This password is too common.", "This password is entirely numeric."]}
    outcome, _ = adapter.reset_password(token, "a\x00b")
    assert outcome == {"new_password": ["Null characters are not allowed."]}
    assert adapter.reset_password(token, NEW)[0] == "ok"


def test_reset_password_codes_in_graphql(gql, user):
    passwords.send_password_reset_email(None, "alice@example.com")
    token = link_token(mail.outbox[-1])
    result = gql(RESET_PASSWORD, {"token": token + "x", "new": NEW})["data"]["resetPassword"]
    assert result == {"__typename": "OperationInfo", "messages": [
        {"field": None, "code": "invalid_reset_token",
         "message": "The password reset link is invalid or has expired."}]}
    result = gql(RESET_PASSWORD, {"token": token, "new": "1234"})["data"]["resetPassword"]
    assert {(m["field"], m["code"]) for m in result["messages"]} == {
        ("newPassword", "password_entirely_numeric"), ("newPassword", "password_too_common"),
        ("newPassword", "password_too_short")}


def test_a_stale_token_header_does_not_stop_a_reset(user, login_token):
    """Reset and its confirmation take no token: an invalid one is ignored, in REST as in GraphQL."""
    from rest_framework.test import APIClient

    tokens.revoke_all_tokens(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {login_token}")
    assert api.post("/auth/password/reset/", {"email": "alice@example.com"}, format="json").status_code == 200
    token = link_token(mail.outbox[-1])
    response = api.post("/auth/password/reset/confirm", {"token": token, "new_password": NEW}, format="json")
    assert (response.status_code, response.json()) == (200, {"success": True})


def test_reset_password_core_errors(user):
    with pytest.raises(InvalidResetToken):
        passwords.reset_password(None, "nonsense", NEW)


# --- throttling -----------------------------------------------------------------------------


@pytest.fixture
def two_per_hour(settings):
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": RESET_URL, "ACCOUNT_THROTTLE_RATE": "2/hour"}


def test_reset_mails_are_throttled_per_account_from_any_ip(adapter, user, two_per_hour):
    for n, email in enumerate(["alice@example.com", "ALICE@example.com"]):
        assert adapter.at(f"203.0.113.{n}").send_password_reset_email(email) == "ok"
    assert adapter.at("203.0.113.9").send_password_reset_email("Alice@Example.com") == "throttled"
    assert len(mail.outbox) == 2


def test_reset_mails_are_throttled_per_ip(adapter, user, two_per_hour):
    assert adapter.send_password_reset_email("a@example.com") == "ok"
    assert adapter.send_password_reset_email("b@example.com") == "ok"
    assert adapter.send_password_reset_email("alice@example.com") == "throttled"
    assert mail.outbox == []


def test_change_password_is_throttled_per_account(adapter, user, login_token, two_per_hour):
    for n in range(2):
        assert adapter.at(f"203.0.113.{n}").change_password(login_token, "wrong", NEW)[0] != "throttled"
    assert adapter.at("203.0.113.9").change_password(login_token, PASSWORD, NEW) == ("throttled", None)
    assert can_log_in("alice", PASSWORD)


def test_reset_password_is_throttled_per_token_and_per_ip(adapter, user, two_per_hour):
    token = reset_token_for(adapter.at("198.51.100.1"))
    for n in range(2):
        assert adapter.at(f"203.0.113.{n}").reset_password(token, "1")[0] != "throttled"
    assert adapter.at("203.0.113.9").reset_password(token, NEW) == ("throttled", None)
    assert adapter.at("203.0.113.9").reset_password("other.token", NEW) == ("invalid_reset_token", None)
    assert adapter.at("203.0.113.9").reset_password("third.token", NEW) == ("throttled", None)


def test_aliases_in_one_request_count_each_call(user, two_per_hour):
    query = "mutation { %s }" % " ".join(
        f'm{n}: sendPasswordResetEmail(email: "alice@example.com") {{ __typename }}' for n in range(3))
    data = GraphQLClient("sync")(query)["data"]
    # One IP's share of alice's bucket of 2 is 1: the second alias is already refused.
    assert [data[f"m{n}"]["__typename"] for n in range(3)] == [
        "SendPasswordResetEmailResult", "OperationInfo", "OperationInfo"]
    assert len(mail.outbox) == 1


# --- admin action and system checks ---------------------------------------------------------


def test_admin_action_sends_reset_links(admin_client, user, other_user, db):
    inactive = User.objects.create_user("ina", "inactive@example.com", PASSWORD, is_active=False)
    invited = User.objects.create_user("invited", "invited@example.com")  # no usable password yet
    response = admin_client.post("/admin/auth/user/", {
        "action": "send_password_reset_emails", "_selected_action": [user.pk, inactive.pk, invited.pk]}, follow=True)
    assert response.status_code == 200
    assert "Reset links sent: 2; failed: 0; inactive or without an email address: 1." in response.content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "invited@example.com"]
    invited_token = link_token(next(m for m in mail.outbox if m.to == ["invited@example.com"]))
    assert passwords.reset_password(None, invited_token, NEW) == 0
    assert can_log_in("invited", NEW)


def test_admin_action_without_password_reset_url(admin_client, user, settings):
    settings.GQL_AUTHTOKEN = {}
    response = admin_client.post("/admin/auth/user/", {
        "action": "send_password_reset_emails", "_selected_action": [user.pk]}, follow=True)
    assert "No reset links sent: PASSWORD_RESET_URL is not set." in response.content.decode()
    assert mail.outbox == []


@pytest.mark.parametrize(("value", "expected"), [
    ({}, {"gql_authtoken.W007"}),
    ({"PASSWORD_RESET_URL": RESET_URL}, set()),
    ({"PASSWORD_RESET_URL": "https://app.example.com/reset/"}, {"gql_authtoken.E025"}),
    ({"PASSWORD_RESET_URL": RESET_URL, "PASSWORD_RESET_EMAIL": {"BODY": "x"}}, {"gql_authtoken.E026"}),
    ({"PASSWORD_RESET_EMAIL": "x"}, {"gql_authtoken.W007", "gql_authtoken.E026"}),
    ({"PASSWORD_RESET_URL": RESET_URL, "PASSWORD_RESET_EMAIL": {"SUBJECT": "x", "MESSAGE": "{url}"}}, set()),
])
def test_password_reset_checks(settings, value, expected):
    settings.GQL_AUTHTOKEN = value
    ids = {m.id for m in run_checks() if m.id in {"gql_authtoken.W007", "gql_authtoken.E025", "gql_authtoken.E026"}}
    assert ids == expected



@pytest.mark.parametrize(("path", "body", "core"), [
    ("/auth/password/change/", {"old_password": PASSWORD, "new_password": "Secret-Marker-19-zz"}, "change_password"),
    ("/auth/password/reset/confirm/", {"token": "NA.secret-reset-token-marker", "new_password": "Secret-Marker-19-zz"},
     "reset_password"),
])
def test_error_reports_carry_no_password_or_reset_token(user, login_token, settings, monkeypatch, path, body, core):
    """An unexpected error in a REST password view: Django's report (the admins' mail, with
    every frame's locals and the POST data) shows neither the passwords nor the reset token."""
    import logging

    from django.core import mail
    from django.test import Client as DjangoClient
    from django.utils.log import AdminEmailHandler
    from django.views.decorators.debug import sensitive_variables

    from gql_authtoken.accounts import passwords

    @sensitive_variables()  # as the core functions it stands for hide their own arguments
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(passwords, core, broken)
    settings.ADMINS = ADMINS
    settings.DEBUG = False
    handler = AdminEmailHandler(include_html=True)  # the HTML report shows every frame's locals
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = DjangoClient(raise_request_exception=False).post(
            path, body, content_type="application/json", headers={"Authorization": f"Token {login_token}"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    assert mail.outbox
    text = "".join(m.body + "".join(alternative for alternative, _ in m.alternatives) for m in mail.outbox)
    assert "RuntimeError" in text
    for secret in ("Secret-Marker-19-zz", "secret-reset-token-marker", PASSWORD):
        assert secret not in text
