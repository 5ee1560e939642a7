"""The admin: clients editable, tokens read-only, revocation through the core."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from gql_authtoken import signals, tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken, Client


def test_clients_are_editable(admin_client):
    response = admin_client.post("/admin/gql_authtoken/client/add/",
                                 {"name": "ios", "token_ttl": "7 00:00:00", "throttle_rate": "100/hour"})
    assert response.status_code == 302
    assert Client.objects.get(name="ios").throttle_rate == "100/hour"


def test_tokens_are_listed_without_digest_and_cannot_be_added(admin_client, user):
    issued = tokens.issue_token(user)
    listing = admin_client.get("/admin/gql_authtoken/authtoken/")
    assert listing.status_code == 200 and b"alice" in listing.content
    detail = admin_client.get(f"/admin/gql_authtoken/authtoken/{issued.instance.pk}/change/")
    assert detail.status_code == 200
    for response in (listing, detail):
        assert issued.instance.digest.encode() not in response.content
        assert issued.token.encode() not in response.content
    assert admin_client.get("/admin/gql_authtoken/authtoken/add/").status_code == 403


def test_revoke_action_calls_the_core(admin_client, user, other_user):
    first, second = tokens.issue_token(user), tokens.issue_token(other_user)
    received = []
    signals.token_revoked.connect(lambda **kw: received.append(kw["user"]), weak=False, dispatch_uid="t-adm")
    try:
        response = admin_client.post("/admin/gql_authtoken/authtoken/", {
            "action": "revoke_selected", "_selected_action": [first.instance.pk, second.instance.pk]})
    finally:
        signals.token_revoked.disconnect(dispatch_uid="t-adm")
    assert response.status_code == 302
    assert not AuthToken.objects.exists()
    assert sorted(u.username for u in received) == ["alice", "bob"]
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(first.token)


def test_django_delete_action_also_revokes_through_the_core(admin_client, user):
    issued = tokens.issue_token(user)
    received = []
    signals.token_revoked.connect(lambda **kw: received.append(kw["session_ids"]), weak=False, dispatch_uid="t-del")
    try:
        response = admin_client.post("/admin/gql_authtoken/authtoken/", {
            "action": "delete_selected", "_selected_action": [issued.instance.pk], "post": "yes"})
    finally:
        signals.token_revoked.disconnect(dispatch_uid="t-del")
    assert response.status_code == 302
    assert received == [[str(issued.instance.pk)]]
    assert not AuthToken.objects.exists()


def test_deleting_one_token_in_the_admin_revokes_it_and_goes_back_to_the_list(admin_client, user):
    issued = tokens.issue_token(user)
    response = admin_client.post(f"/admin/gql_authtoken/authtoken/{issued.instance.pk}/delete/", {"post": "yes"})
    assert (response.status_code, response["Location"]) == (302, "/admin/gql_authtoken/authtoken/")
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(issued.token)


def test_confirmation_mail_action_reports_a_mail_server_failing_part_way(admin_client, settings, monkeypatch):
    from django.core import mail

    from gql_authtoken import email_confirmation
    from gql_authtoken.models import EmailConfirmationToken

    settings.GQL_AUTHTOKEN = {"REGISTRATION_EMAIL_CONFIRM": True, "REGISTRATION_EMAIL": {"BASE_URL": "http://x"}}
    users = [get_user_model().objects.create_user(f"u{i}", f"u{i}@example.com", "pw") for i in range(3)]
    nomail = get_user_model().objects.create_user("nomail", "", "pw")
    real_send, calls = email_confirmation.send_mail, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionResetError("mail server went away")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(email_confirmation, "send_mail", flaky)
    response = admin_client.post("/admin/auth/user/", {
        "action": "send_confirmation_emails",
        "_selected_action": [u.pk for u in users] + [nomail.pk]}, follow=True)
    assert "Confirmation links sent: 2; failed: 1; without an email address: 1." in response.content.decode()
    assert len(mail.outbox) == 2
    assert EmailConfirmationToken.objects.count() == 2  # no link kept for the failed mail


@pytest.fixture
def superuser_token(db):
    root = get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-password")
    return root, tokens.issue_token(root).token


def test_a_token_never_authenticates_the_admin(superuser_token):
    from django.test import Client as DjangoClient

    root, token = superuser_token
    headers = {"Authorization": f"Token {token}"}
    response = DjangoClient().get("/admin/", headers=headers)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    # Nor does it lift CSRF protection there: a POST with the token is refused.
    client = DjangoClient(enforce_csrf_checks=True)
    response = client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"}, headers=headers)
    assert response.status_code == 403
    assert get_user_model().objects.filter(pk=root.pk).exists()


def test_a_session_login_to_the_admin_still_works_beside_a_token(superuser_token):
    from django.test import Client as DjangoClient

    root, token = superuser_token
    client = DjangoClient()
    client.force_login(root)
    assert client.get("/admin/", headers={"Authorization": f"Token {token}"}).status_code == 200
    assert client.get("/admin/", headers={"Authorization": "Token not-a-token"}).status_code == 200
    # Outside the admin the token still decides.
    assert client.get("/whoami/", headers={"Authorization": "Token not-a-token"}).json()["user"] is None
