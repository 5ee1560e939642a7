"""Email confirmation only completes a pending registration (API.md §8).

With ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD = "is_active"``, no link and no
resend may activate an account that was made some other way or that an
administrator deactivated. Through GraphQL (sync, async) and REST alike.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings

from gql_authtoken import clock, crypto, email_confirmation
from gql_authtoken.accounts import registration
from gql_authtoken.exceptions import InvalidConfirmationToken
from gql_authtoken.models import ConfirmationPurpose, EmailConfirmationToken, PendingRegistration

from .conftest import as_of_migration
from .test_registration import CONFIRM, CONFIRM_ACTIVE, GOOD, token_from_mail

User = get_user_model()


@pytest.fixture
def confirming(settings):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE


def old_link(user) -> str:
    """A registration link as the previous release mailed it (resend sent one to any unconfirmed account)."""
    token = crypto.generate_token(length=64)
    EmailConfirmationToken.objects.create(user=user, email=user.email, digest=crypto.hash_token(token),
                                          created=clock.now(), purpose=ConfirmationPurpose.REGISTRATION)
    return token


def deactivate(user) -> None:
    """What the admin's "active" checkbox does."""
    user.is_active = False
    user.save()


def test_deactivated_create_user_account_gets_no_mail_and_old_links_do_nothing(adapter, confirming, db):
    demo = User.objects.create_user("demo", "demo@example.com", GOOD)
    link = old_link(demo)
    deactivate(demo)
    registration.resend_confirmation_email(None, "demo@example.com")
    assert not mail.outbox
    assert adapter.confirm_email(link) == "invalid_confirmation_token"
    demo.refresh_from_db()
    assert not demo.is_active
    assert not EmailConfirmationToken.objects.exists()  # the refused link is gone, not recorded as used


def test_graphql_resend_to_a_deactivated_account_answers_success_and_sends_nothing(gql, confirming, db):
    deactivate(User.objects.create_superuser("root", "root@example.com", GOOD))
    query = ('mutation { resendConfirmationEmail(email: "root@example.com") '
             "{ __typename ... on ResendResult { success } } }")
    assert gql(query)["data"]["resendConfirmationEmail"] == {"__typename": "ResendResult", "success": True}
    assert not mail.outbox


def test_registered_confirmed_then_deactivated_account_stays_deactivated(adapter, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    first = token_from_mail(mail.outbox[0])
    registration.resend_confirmation_email(None, "carol@example.com")
    second = token_from_mail(mail.outbox[1])
    assert adapter.confirm_email(second) == "ok"
    carol = User.objects.get(username="carol")
    assert carol.is_active and not email_confirmation.is_pending_registration(carol)
    # A link issued after confirming (the admin action) but before the deactivation.
    email_confirmation.send_confirmation_email(carol)
    admin_link = token_from_mail(mail.outbox[2])
    deactivate(carol)
    mail.outbox.clear()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert not mail.outbox
    assert adapter.confirm_email(first) == "invalid_confirmation_token"
    assert adapter.confirm_email(old_link(carol)) == "invalid_confirmation_token"
    assert adapter.confirm_email(admin_link) == "ok"  # records the address, nothing more
    carol.refresh_from_db()
    assert not carol.is_active
    assert email_confirmation.is_email_confirmed(carol)


def test_pending_registration_resend_works_and_confirms_once(adapter, confirming, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "ok"
    carol = User.objects.get(username="carol")
    assert email_confirmation.is_pending_registration(carol) and not email_confirmation.is_email_confirmed(carol)
    registration.resend_confirmation_email(None, "CAROL@example.com")
    first, second = (token_from_mail(m) for m in mail.outbox)
    assert adapter.confirm_email(second) == "ok"
    carol.refresh_from_db()
    assert carol.is_active and email_confirmation.is_email_confirmed(carol)
    assert not PendingRegistration.objects.exists()
    assert adapter.confirm_email(first) == "invalid_confirmation_token"
    assert adapter.confirm_email(second) == "invalid_confirmation_token"


def test_pending_registration_is_written_with_the_account(confirming, db, monkeypatch):
    def fail(user, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(email_confirmation, "start_registration", fail)
    with pytest.raises(RuntimeError):
        registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    assert not User.objects.exists()  # one transaction: no account that could never be confirmed


def test_registration_without_confirmation_is_not_pending(settings, db):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    assert not PendingRegistration.objects.exists()


def test_admin_action_link_for_a_deactivated_account_never_activates_it(admin_client, confirming, db):
    demo = User.objects.create_user("demo", "demo@example.com", GOOD)
    deactivate(demo)
    response = admin_client.post("/admin/auth/user/", {"action": "send_confirmation_emails",
                                                       "_selected_action": [demo.pk]})
    assert response.status_code == 302
    [link] = EmailConfirmationToken.objects.all()
    assert link.purpose == ConfirmationPurpose.ADDRESS
    assert registration.confirm_email(None, token_from_mail(mail.outbox[0])) == demo
    demo.refresh_from_db()
    assert not demo.is_active and email_confirmation.is_email_confirmed(demo)


def test_admin_action_for_a_pending_registration_mails_a_registration_link(admin_client, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    carol = User.objects.get(username="carol")
    admin_client.post("/admin/auth/user/", {"action": "send_confirmation_emails", "_selected_action": [carol.pk]})
    registration.confirm_email(None, token_from_mail(mail.outbox[-1]))
    carol.refresh_from_db()
    assert carol.is_active


def test_deleting_the_pending_registration_refuses_its_links(admin_client, confirming, db):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    carol = User.objects.get(username="carol")
    listing = admin_client.get("/admin/gql_authtoken/pendingregistration/")
    assert listing.status_code == 200 and b"carol" in listing.content
    assert admin_client.get("/admin/gql_authtoken/pendingregistration/add/").status_code == 403
    response = admin_client.post("/admin/gql_authtoken/pendingregistration/", {
        "action": "delete_selected", "_selected_action": [carol.pk], "post": "yes"})
    assert response.status_code == 302
    with pytest.raises(InvalidConfirmationToken):
        registration.confirm_email(None, token_from_mail(mail.outbox[0]))
    carol.refresh_from_db()
    assert not carol.is_active


@override_settings(GQL_AUTHTOKEN=CONFIRM)
def test_without_model_field_a_pending_registration_is_completed_too(adapter, db):
    assert adapter.register("carol", GOOD, "carol@example.com") == "ok"
    carol = User.objects.get()
    assert carol.is_active and not email_confirmation.is_email_confirmed(carol)
    assert adapter.confirm_email(token_from_mail(mail.outbox[0])) == "ok"
    assert email_confirmation.is_email_confirmed(carol) and not PendingRegistration.objects.exists()
    mail.outbox.clear()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert not mail.outbox


def test_is_email_confirmed(confirming, db):
    alice = User.objects.create_user("alice", "alice@example.com", GOOD)
    assert email_confirmation.is_email_confirmed(alice)  # the model field says so
    deactivate(alice)
    assert not email_confirmation.is_email_confirmed(alice)
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    carol = User.objects.get(username="carol")
    assert not email_confirmation.is_email_confirmed(carol)
    carol.is_active = True  # set by hand: an administrator ends the registration
    carol.save()
    assert email_confirmation.is_email_confirmed(carol)


def test_expired_registration_link_leaves_the_registration_pending(confirming, db, monkeypatch):
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    with pytest.raises(InvalidConfirmationToken):
        registration.confirm_email(None, token)
    registration.resend_confirmation_email(None, "carol@example.com")
    assert registration.confirm_email(None, token_from_mail(mail.outbox[1])).is_active


def test_data_migration_makes_waiting_registrations_pending(transactional_db, settings):
    """Users of the previous release with only unused links count as pending; nobody else does."""
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    now = clock.now()
    plaintext = {}
    with as_of_migration("0001_initial") as old_apps:
        OldUser = old_apps.get_model(settings.AUTH_USER_MODEL)
        OldToken = old_apps.get_model("gql_authtoken", "EmailConfirmationToken")

        def user_with_links(name, *, active, links, joined=now - timedelta(hours=1)):
            user = OldUser.objects.create(username=name, email=f"{name}@example.com", is_active=active,
                                          date_joined=joined)
            for confirmed in links:
                plaintext[name] = token = crypto.generate_token(length=64)
                OldToken.objects.create(user=user, email=user.email, digest=crypto.hash_token(token),
                                        created=now - timedelta(hours=1), confirmed=confirmed)

        user_with_links("waiting", active=False, links=[None, None])
        # The old resend mailed a link to any inactive account on request: an account an
        # administrator deactivated long after it joined holds one, and must not become pending.
        user_with_links("deactivated_by_admin", active=False, links=[None], joined=now - timedelta(days=400))
        user_with_links("confirmed", active=True, links=[now])
        user_with_links("confirmed_then_deactivated", active=False, links=[now, None])
        user_with_links("active_with_link", active=True, links=[None])
        user_with_links("no_link", active=False, links=[])
    # Migrated to the latest: 0003 made the pending registrations.
    pending = PendingRegistration.objects.select_related("user").get()
    assert pending.user.username == "waiting"
    assert pending.created == now - timedelta(hours=1)
    # Their old link still completes the registration; the others' links do nothing.
    assert registration.confirm_email(None, plaintext["waiting"]).is_active
    with pytest.raises(InvalidConfirmationToken):
        registration.confirm_email(None, plaintext["confirmed_then_deactivated"])
    assert not User.objects.get(username="confirmed_then_deactivated").is_active
    with pytest.raises(InvalidConfirmationToken):
        registration.confirm_email(None, plaintext["deactivated_by_admin"])
    assert not User.objects.get(username="deactivated_by_admin").is_active


def test_an_account_activated_by_hand_is_no_longer_pending(adapter, confirming, db):
    """An administrator activates a pending account, later deactivates it: no link
    from before and no resend can undo the deactivation."""
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    link = token_from_mail(mail.outbox[0])
    carol = User.objects.get(username="carol")
    carol.is_active = True
    carol.save()
    assert not email_confirmation.is_pending_registration(carol)
    deactivate(carol)
    mail.outbox.clear()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert not mail.outbox
    assert adapter.confirm_email(link) == "invalid_confirmation_token"
    carol.refresh_from_db()
    assert not carol.is_active


def test_a_pending_account_activated_in_bulk_then_deactivated_stays_deactivated(adapter, confirming, db):
    """``QuerySet.update()`` sends no signal, but the later deactivation through ``save()``
    changes the field, which ends the pending registration."""
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    link = token_from_mail(mail.outbox[0])
    User.objects.filter(username="carol").update(is_active=True)
    deactivate(User.objects.get(username="carol"))
    mail.outbox.clear()
    registration.resend_confirmation_email(None, "carol@example.com")
    assert not mail.outbox
    assert adapter.confirm_email(link) == "invalid_confirmation_token"
    assert not User.objects.get(username="carol").is_active
