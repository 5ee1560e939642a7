"""Races on a real database: PostgreSQL only (SQLite serialises writers, so there is no race)."""

from __future__ import annotations

import queue
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection

from gql_authtoken import email_confirmation, services
from gql_authtoken.exceptions import InvalidConfirmationToken, ValidationFailed
from gql_authtoken.models import EmailConfirmationToken

from .test_registration import CONFIRM_ACTIVE, GOOD, token_from_mail

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL (set DATABASE_URL)"
)


def run_together(target, count=2):
    """Run ``target`` in ``count`` threads, each with its own connection; their outcomes."""
    outcomes = [None] * count

    def run(index):
        try:
            outcomes[index] = target()
        except Exception as error:  # the outcome under test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def wait_at(barrier, function):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        barrier.wait(timeout=10)  # both requests have passed this point before either goes on
        return result

    return wrapper


def test_simultaneous_registrations_of_one_username(transactional_db, settings, monkeypatch):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    barrier = threading.Barrier(2)
    monkeypatch.setattr(services, "_registration_errors", wait_at(barrier, services._registration_errors))
    outcomes = run_together(lambda: services.register(None, username="carol", password=GOOD))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ValidationFailed)
    [field_error] = errors[0].field_errors()
    assert (field_error.field, field_error.code) == ("username", "unique")
    assert str(field_error.message) == "A user with that username already exists."
    assert get_user_model().objects.filter(username="carol").count() == 1


def test_simultaneous_confirmations_of_one_token(transactional_db, settings, monkeypatch):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    services.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    confirmed = []
    from gql_authtoken import signals

    signals.email_confirmed.connect(lambda **kw: confirmed.append(kw["email"]), weak=False, dispatch_uid="t-race")
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_confirmation, "email_of", wait_at(barrier, email_confirmation.email_of))
    try:
        outcomes = run_together(lambda: services.confirm_email(None, token))
    finally:
        signals.email_confirmed.disconnect(dispatch_uid="t-race")
    assert sum(isinstance(o, InvalidConfirmationToken) for o in outcomes) == 1
    assert confirmed == ["carol@example.com"]
    assert EmailConfirmationToken.objects.filter(confirmed__isnull=False).count() == 1


def test_simultaneous_confirmations_with_two_links_of_one_user(transactional_db, settings, monkeypatch):
    """Each use deletes the user's other links: without serialising on the user, the
    two transactions would wait for each other's link row (a deadlock)."""
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    services.register(None, username="carol", password=GOOD, email="carol@example.com")
    services.resend_confirmation_email(None, "carol@example.com")
    links = queue.SimpleQueue()
    for message in mail.outbox:
        links.put(token_from_mail(message))
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_confirmation, "email_of", wait_at(barrier, email_confirmation.email_of))
    outcomes = run_together(lambda: services.confirm_email(None, links.get()))
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidConfirmationToken", "User"], outcomes
    assert get_user_model().objects.get(username="carol").is_active
    assert EmailConfirmationToken.objects.get().confirmed is not None
