"""Registration and email confirmation, through GraphQL (sync, async) and REST alike."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import override_settings

from gql_authtoken import clock, crypto, email_confirmation, signals
from gql_authtoken.accounts import registration
from gql_authtoken.exceptions import InvalidConfirmationToken
from gql_authtoken.models import EmailConfirmationToken

from .adapters import REGISTER
from .conftest import operation_code

User = get_user_model()
GOOD = "a-Strong-passphrase-42"
ENABLED = {"REGISTRATION_ENABLED": True}
CONFIRM = {
    "REGISTRATION_ENABLED": True,
    "REGISTRATION_EMAIL_CONFIRM": True,
    "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"},
}
CONFIRM_ACTIVE = {**CONFIRM, "REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": "is_active"}


def token_from_mail(message) -> str:
    return re.search(r"/auth/register/confirm/([^/\s]+)/", message.body).group(1)


@pytest.fixture
def enabled(settings):
    settings.GQL_AUTHTOKEN = ENABLED


@pytest.fixture
def confirming(settings):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE


def test_disabled_by_default(adapter, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "registration_disabled"
    assert not User.objects.exists()


def test_register_without_confirmation_then_log_in(adapter, enabled, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "ok"
    user = User.objects.get(username="carol")
    assert user.email == "carol@example.com" and user.is_active and user.check_password(GOOD)
    assert not mail.outbox
    assert adapter.login("carol", GOOD)[0] == "ok"


def test_graphql_result_fields(gql, enabled, db):
    result = gql(REGISTER, {"username": "carol", "password": GOOD, "email": None})["data"]["register"]
    assert result == {"__typename": "RegisterResult", "success": True, "emailConfirmationRequired": False,
                      "user": {"username": "carol", "email": None}}


def test_duplicate_username(adapter, enabled, user):
    assert adapter.register("alice", GOOD) == {"username": ["A user with that username already exists."]}
    assert User.objects.count() == 1


def test_duplicate_email_case_insensitive(adapter, enabled, user):
    assert adapter.register("carol", GOOD, "ALICE@example.com") == {"email": ["A user with that email already exists."]}


def test_all_field_errors_at_once_and_nothing_written(adapter, enabled, user):
    outcome = adapter.register("alice", "12345678", "not-an-email")
    assert set(outcome) == {"username", "email", "password"}
    assert outcome["email"] == ["Enter a valid email address."]
    assert "This password is entirely numeric." in outcome["password"]
    assert "This password is too common." in outcome["password"]
    assert User.objects.count() == 1


def test_missing_fields_are_required(adapter, enabled, db):
    assert adapter.register("", "") == {"username": ["This field is required."],
                                        "password": ["This field is required."]}


def test_field_error_codes(gql, enabled, user):
    result = gql(REGISTER, {"username": "alice", "password": "alice123", "email": "x"})["data"]["register"]
    codes = {(m["field"], m["code"]) for m in result["messages"]}
    assert codes == {("username", "unique"), ("email", "invalid"), ("password", "password_too_similar"),
                     ("password", "password_too_common")}
    messages = gql(REGISTER, {"username": "", "password": "x"})["data"]["register"]["messages"]
    assert ("username", "required") in {(m["field"], m["code"]) for m in messages}
    assert ("password", "password_too_short") in {(m["field"], m["code"]) for m in messages}


def test_username_validators_of_the_model(adapter, enabled, db):
    outcome = adapter.register("bad name!", GOOD)
    assert list(outcome) == ["username"]


def test_case_insensitive_manager_makes_registration_case_insensitive(adapter, enabled, user, monkeypatch):
    manager = type(User._default_manager)
    monkeypatch.setattr(manager, "get_by_natural_key",
                        lambda self, username: self.get(**{f"{User.USERNAME_FIELD}__iexact": username}))
    assert adapter.register("ALICE", GOOD) == {"username": ["A user with that username already exists."]}


def test_email_required_when_confirmation_is_on(adapter, confirming, db):
    assert adapter.register("carol", GOOD) == {"email": ["This field is required."]}


def test_registration_signal(enabled, db, rf):
    received = []
    signals.user_registered.connect(lambda **kw: received.append(kw["user"].username), weak=False, dispatch_uid="t-reg")
    try:
        registration.register(rf.post("/"), username="carol", password=GOOD)
    finally:
        signals.user_registered.disconnect(dispatch_uid="t-reg")
    assert received == ["carol"]


def test_confirmation_flow_with_is_active(adapter, confirming, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "ok"
    user = User.objects.get(username="carol")
    assert not user.is_active
    assert adapter.login("carol", GOOD)[0] == "inactive_user"
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    assert message.from_email == "noreply@example.com"
    assert "Hello carol" in message.body
    token = token_from_mail(message)
    assert "https://api.example.com/auth/register/confirm/" in message.body
    assert adapter.confirm_email(token) == "ok"
    user.refresh_from_db()
    assert user.is_active
    assert adapter.login("carol", GOOD)[0] == "ok"
    assert adapter.confirm_email(token) == "invalid_confirmation_token"


def test_graphql_confirm_result(gql, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    query = ("mutation($t: String!) { confirmEmail(token: $t) "
             "{ ... on ConfirmEmailResult { success user { username } } } }")
    assert gql(query, {"t": token})["data"]["confirmEmail"] == {"success": True, "user": {"username": "carol"}}


@override_settings(GQL_AUTHTOKEN=CONFIRM)
def test_without_model_field_confirmation_only_records_the_address(adapter, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "ok"
    user = User.objects.get()
    assert user.is_active and not email_confirmation.is_email_confirmed(user)
    assert adapter.confirm_email(token_from_mail(mail.outbox[0])) == "ok"
    assert email_confirmation.is_email_confirmed(user)


def test_confirmation_signal(confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    received = []
    signals.email_confirmed.connect(lambda **kw: received.append((kw["user"].username, kw["email"])),
                                    weak=False, dispatch_uid="t-conf")
    try:
        registration.confirm_email(None, token_from_mail(mail.outbox[0]))
    finally:
        signals.email_confirmed.disconnect(dispatch_uid="t-conf")
    assert received == [("carol", "carol@example.com")]


def test_confirmation_token_expires(adapter, confirming, db, monkeypatch):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert adapter.confirm_email(token) == "invalid_confirmation_token"
    assert not User.objects.get().is_active


def test_email_change_invalidates_the_token(adapter, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    User.objects.filter(username="carol").update(email="other@example.com")
    assert adapter.confirm_email(token) == "invalid_confirmation_token"
    assert not User.objects.get().is_active


def test_tampered_and_truncated_tokens_are_rejected(adapter, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    for bad in (tampered, token[:-1], token[:10], "x" * 600):
        assert adapter.confirm_email(bad) == "invalid_confirmation_token"
    assert adapter.confirm_email(token) == "ok"


def test_only_the_digest_is_stored(confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM gql_authtoken_emailconfirmationtoken")
        rows = repr(cursor.fetchall())
    assert token not in rows and crypto.hash_token(token) in rows


def test_invalid_link_without_redirect_setting_is_400_plain_text(client, confirming, db):
    response = client.post("/auth/register/confirm/nope/")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "The confirmation link is invalid or has expired."


def test_link_redirects_come_from_settings(client, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM, "REGISTRATION_CONFIRM_REDIRECT_PATH": "/welcome/",
                              "REGISTRATION_CONFIRM_INVALID_REDIRECT_PATH": "/link-invalid/"}
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    assert client.post(f"/auth/register/confirm/{token}/?next=https://evil.example",
                       {"next": "https://evil.example"}).url == "/welcome/"
    assert client.post(f"/auth/register/confirm/{token}/").url == "/link-invalid/"


def test_front_end_confirm_url_template(settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM, "REGISTRATION_CONFIRM_URL": "https://app.example.com/confirm?t={token}"}
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = re.search(r"confirm\?t=(\S+)", mail.outbox[0].body).group(1)
    assert registration.confirm_email(None, token).username == "carol"


def test_confirm_and_resend_keep_working_after_registration_is_turned_off(adapter, settings, db):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "REGISTRATION_ENABLED": False}
    registration.resend_confirmation_email(None, "carol@example.com")
    assert len(mail.outbox) == 2
    assert adapter.confirm_email(token_from_mail(mail.outbox[1])) == "ok"


RESEND = 'mutation($e: String!) { resendConfirmationEmail(email: $e) { __typename ... on ResendResult { success } } }'


def test_resend_always_succeeds_and_sends_only_to_unconfirmed(gql, confirming, user, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    mail.outbox.clear()
    for email in ("nobody@example.com", "alice@example.com", "CAROL@example.com", "not an email"):
        result = gql(RESEND, {"e": email})["data"]["resendConfirmationEmail"]
        assert result == {"__typename": "ResendResult", "success": True}
    # alice was made by create_user, not register: she has no pending registration.
    assert [m.to[0] for m in mail.outbox] == ["carol@example.com"]
    registration.confirm_email(None, token_from_mail(mail.outbox[-1]))
    mail.outbox.clear()
    gql(RESEND, {"e": "carol@example.com"})
    assert not mail.outbox


def test_resend_goes_to_every_pending_registration_with_the_address(confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    registration.register(None, username="carol2", password=GOOD, email="carol2@example.com")
    # Two accounts can share an address when it was changed afterwards (here in bulk).
    User.objects.filter(username="carol2").update(email="Carol@Example.com")
    mail.outbox.clear()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert sorted(m.to[0] for m in mail.outbox) == ["Carol@Example.com", "carol@example.com"]


def test_resend_is_throttled_per_call(gql, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "3/hour"}
    aliased = "mutation {" + " ".join(
        f'r{i}: resendConfirmationEmail(email: "x{i}@example.com") '
        "{ __typename ... on OperationInfo { messages { code message } } }"
        for i in range(5)) + "}"
    data = gql(aliased)["data"]
    assert [data[f"r{i}"]["__typename"] for i in range(5)] == ["ResendResult"] * 3 + ["OperationInfo"] * 2
    assert data["r4"]["messages"][0]["code"] == "throttled"
    assert re.match(r"Too many attempts\. Try again in \d+ seconds?\.", data["r4"]["messages"][0]["message"])


def test_confirm_email_is_throttled_per_call(gql, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "2/hour"}
    aliased = "mutation {" + " ".join(
        f'c{i}: confirmEmail(token: "guess{i}") {{ ... on OperationInfo {{ messages {{ code }} }} }}'
        for i in range(4)) + "}"
    data = gql(aliased)["data"]
    assert [data[f"c{i}"]["messages"][0]["code"] for i in range(4)] == [
        "invalid_confirmation_token", "invalid_confirmation_token", "throttled", "throttled"]


def test_rest_register_and_link_are_throttled(client, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "1/hour"}
    assert client.post("/auth/register/confirm/guess/").status_code == 400
    response = client.post("/auth/register/confirm/guess2/")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    # Buckets are per operation: registering has its own.
    data = {"username": "carol", "password": GOOD, "email": "carol@example.com"}
    assert client.post("/auth/register/", data, content_type="application/json").status_code == 201
    data = {"username": "dave", "password": GOOD, "email": "dave@example.com"}
    response = client.post("/auth/register/", data, content_type="application/json")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="dave").exists()


def test_mail_failure_keeps_the_account_and_resend_works(confirming, db, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(email_confirmation, "send_mail", broken)
    result = registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    assert result.email_confirmation_required and User.objects.filter(username="carol").exists()
    assert not EmailConfirmationToken.objects.exists()  # the unsent link is gone
    assert "Could not send the confirmation email" in caplog.text
    monkeypatch.undo()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert len(mail.outbox) == 1


def test_german_request_gets_german_errors_and_mail(adapter, settings, db):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    assert adapter.register("carol", GOOD, **{"Accept_Language": "de"}) == {
        "email": ["Dieses Feld ist zwingend erforderlich."]}
    assert adapter.register("carol", GOOD, "carol@example.com", **{"Accept_Language": "de"}) == "ok"
    [message] = mail.outbox
    assert message.subject == "Bestätigen Sie Ihre E-Mail-Adresse"
    assert message.body.startswith("Hallo carol,")


def test_german_login_error(gql, user):
    from .conftest import LOGIN

    result = gql(LOGIN, {"username": "alice", "password": "wrong"}, Accept_Language="de")["data"]["login"]
    assert operation_code(result) == "invalid_credentials"
    # The msgid is DRF's, so DRF's own German wording is what clients see.
    assert result["messages"][0]["message"] == "Die angegebenen Zugangsdaten stimmen nicht."


def test_async_forms(confirming, db):
    from asgiref.sync import async_to_sync

    result = async_to_sync(registration.aregister)(None, username="carol", password=GOOD, email="carol@example.com")
    assert result.email_confirmation_required
    async_to_sync(registration.aresend_confirmation_email)(None, "carol@example.com")
    assert len(mail.outbox) == 2
    assert async_to_sync(registration.aconfirm_email)(None, token_from_mail(mail.outbox[1])).username == "carol"
    with pytest.raises(InvalidConfirmationToken):
        async_to_sync(registration.aconfirm_email)(None, token_from_mail(mail.outbox[0]))


def test_lazy_translations_in_the_mail_settings(adapter, settings, db):
    from django.utils.translation import gettext_lazy

    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "REGISTRATION_EMAIL": {
        "BASE_URL": "https://api.example.com",
        "SUBJECT": gettext_lazy("Confirm your email address"),
        "MESSAGE": gettext_lazy(
            "Hello {username},\n\nplease confirm your email address by opening this link:\n\n{url}\n"),
    }}
    assert adapter.register("carol", GOOD, "carol@example.com", Accept_Language="de") == "ok"
    assert mail.outbox[0].subject == "Bestätigen Sie Ihre E-Mail-Adresse"
    assert "https://api.example.com/auth/register/confirm/" in mail.outbox[0].body


ODD = ["\x00", "a\x00b", "\ud800", "x\udfffy", "é" * 40, "\u202e" + "A" * 63, "x" * 10_000]


@pytest.mark.parametrize("token", ODD)
def test_odd_confirmation_tokens_are_invalid_never_an_error(gql, confirming, db, token):
    query = "mutation($t: String!) { confirmEmail(token: $t) { ... on OperationInfo { messages { code } } } }"
    result = gql(query, {"t": token})
    assert "errors" not in result, result
    assert result["data"]["confirmEmail"]["messages"][0]["code"] == "invalid_confirmation_token"


def test_odd_confirmation_tokens_are_counted_per_ip(gql, settings, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "2/hour"}
    query = "mutation($t: String!) { confirmEmail(token: $t) { ... on OperationInfo { messages { code } } } }"
    codes = [gql(query, {"t": token})["data"]["confirmEmail"]["messages"][0]["code"] for token in ODD[:3]]
    assert codes == ["invalid_confirmation_token", "invalid_confirmation_token", "throttled"]


@pytest.mark.parametrize("email", ["carol\x00@example.com", "carol\ud800@example.com", "c" * 300 + "@example.com"])
def test_resend_with_an_odd_address_answers_success_and_mails_nobody(gql, confirming, db, email):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    mail.outbox.clear()
    result = gql(RESEND, {"e": email})
    assert result["data"]["resendConfirmationEmail"] == {"__typename": "ResendResult", "success": True}, result
    assert not mail.outbox
