"""Races on a real database: PostgreSQL only (SQLite serialises writers, so there is no race)."""

from __future__ import annotations

import queue
import threading

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection

from gql_authtoken import email_confirmation
from gql_authtoken.accounts import fields, registration
from gql_authtoken.exceptions import InvalidConfirmationToken, ValidationFailed
from gql_authtoken.models import EmailConfirmationToken

from .test_registration import CONFIRM_ACTIVE, GOOD, token_from_mail

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL (set DATABASE_URL)"
)


def run_together(target, count=2):
    """Run ``target`` in ``count`` threads, each with its own connection; their outcomes."""
    return run_concurrently(*[target] * count)


def run_concurrently(*targets):
    """Run each of ``targets`` in a thread of its own, with its own connection, all at once; their
    outcomes in order (what each returned, or the exception it raised)."""
    outcomes = [None] * len(targets)

    def run(index):
        try:
            outcomes[index] = targets[index]()
        except Exception as error:  # the outcome under test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def wait_at(barrier, function):
    """``function`` that waits at ``barrier`` after its first call in each thread: the check made
    before any lock (a check made again under a lock must not wait for a thread that lock holds)."""
    passed = set()

    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        if threading.get_ident() not in passed:
            passed.add(threading.get_ident())
            barrier.wait(timeout=10)  # both requests have passed this point before either goes on
        return result

    return wrapper


def test_simultaneous_registrations_of_one_username(transactional_db, settings, monkeypatch):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    barrier = threading.Barrier(2)
    monkeypatch.setattr(fields, "registration_errors", wait_at(barrier, fields.registration_errors))
    outcomes = run_together(lambda: registration.register(None, username="carol", password=GOOD))
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ValidationFailed)
    [field_error] = errors[0].field_errors()
    assert (field_error.field, field_error.code) == ("username", "unique")
    assert str(field_error.message) == "A user with that username already exists."
    assert get_user_model().objects.filter(username="carol").count() == 1


def test_simultaneous_confirmations_of_one_token(transactional_db, settings, monkeypatch):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    token = token_from_mail(mail.outbox[0])
    confirmed = []
    from gql_authtoken import signals

    signals.email_confirmed.connect(lambda **kw: confirmed.append(kw["email"]), weak=False, dispatch_uid="t-race")
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_confirmation, "email_of", wait_at(barrier, email_confirmation.email_of))
    try:
        outcomes = run_together(lambda: registration.confirm_email(None, token))
    finally:
        signals.email_confirmed.disconnect(dispatch_uid="t-race")
    assert sum(isinstance(o, InvalidConfirmationToken) for o in outcomes) == 1
    assert confirmed == ["carol@example.com"]
    assert EmailConfirmationToken.objects.filter(confirmed__isnull=False).count() == 1


def test_simultaneous_confirmations_with_two_links_of_one_user(transactional_db, settings, monkeypatch):
    """Each use deletes the user's other links: without serialising on the user, the
    two transactions would wait for each other's link row (a deadlock)."""
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    registration.resend_confirmation_email(None, "carol@example.com")
    links = queue.SimpleQueue()
    for message in mail.outbox:
        links.put(token_from_mail(message))
    barrier = threading.Barrier(2)
    monkeypatch.setattr(email_confirmation, "email_of", wait_at(barrier, email_confirmation.email_of))
    outcomes = run_together(lambda: registration.confirm_email(None, links.get()))
    assert sorted(type(o).__name__ for o in outcomes) == ["InvalidConfirmationToken", "User"], outcomes
    assert get_user_model().objects.get(username="carol").is_active
    assert EmailConfirmationToken.objects.get().confirmed is not None


# --- one identity in any case, many requests at once (issue 10, item 2) ----------------


def register_concurrently(kind, registrations, monkeypatch):
    """Send the registrations as simultaneous requests (GraphQL or REST), one thread and one
    database connection each; all of them pass the first uniqueness check before any takes
    the identity lock. Their outcomes, in order."""
    from gql_authtoken import identities

    from .adapters import GraphQLAdapter, RestAdapter

    barrier = threading.Barrier(len(registrations))
    original = identities.lock_identities

    def lock_when_all_are_here(values):
        barrier.wait(timeout=10)
        original(values)

    adapters = iter([RestAdapter() if kind == "rest" else GraphQLAdapter("sync") for _ in registrations])
    calls = iter(registrations)
    lock = threading.Lock()

    def register():
        with lock:
            adapter, (username, email) = next(adapters), next(calls)
        return adapter.register(username, GOOD, email)

    with monkeypatch.context() as patch:
        patch.setattr(identities, "lock_identities", lock_when_all_are_here)
        return run_together(register, count=len(registrations))


@pytest.mark.parametrize("kind", ["graphql", "rest"])
def test_ten_simultaneous_registrations_with_one_address_make_one_account(transactional_db, settings, monkeypatch,
                                                                           kind):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    spellings = ["carol@example.com", "Carol@example.com", "CAROL@EXAMPLE.COM", "ｃａｒｏｌ@example.com"]
    outcomes = register_concurrently(kind, [(f"user{i}", spellings[i % 4]) for i in range(10)], monkeypatch)
    taken = {"email": ["A user with that email already exists."]}
    assert outcomes.count("ok") == 1 and outcomes.count(taken) == 9, outcomes
    assert get_user_model().objects.filter(email__iexact="carol@example.com").count() == 1


@pytest.mark.parametrize("kind", ["graphql", "rest"])
def test_ten_simultaneous_registrations_of_case_variants_make_one_account(transactional_db, settings, monkeypatch,
                                                                          kind):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    variants = ["carol", "Carol", "CAROL", "cArol", "caRol", "carOl", "caroL", "CArol", "ｃａｒｏｌ", "ＣＡＲＯＬ"]
    outcomes = register_concurrently(kind, [(name, None) for name in variants], monkeypatch)
    taken = {"username": ["A user with that username already exists."]}
    assert outcomes.count("ok") == 1 and outcomes.count(taken) == 9, outcomes
    assert get_user_model().objects.filter(username__iexact="carol").count() == 1


@pytest.mark.parametrize("kind", ["graphql", "rest"])
def test_ten_simultaneous_registrations_of_unicode_spellings_make_one_account(transactional_db, settings,
                                                                              monkeypatch, kind):
    """Spellings PostgreSQL's ``UPPER()`` does not fold together (ß, ẞ and ss) take one lock."""
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    variants = ["straße", "STRAẞE", "strasse", "STRASSE", "Straße", "StraSSe", "ſtrasse", "ｓｔｒａｓｓｅ",
                "sTRAßE", "strassE"]
    outcomes = register_concurrently(kind, [(name, None) for name in variants], monkeypatch)
    taken = {"username": ["A user with that username already exists."]}
    assert outcomes.count("ok") == 1 and outcomes.count(taken) == 9, outcomes
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("kind", ["graphql", "rest"])
def test_simultaneous_registrations_of_one_mail_domain_in_several_spellings(transactional_db, settings,
                                                                           monkeypatch, kind):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    spellings = ["dora@strasse.de", "dora@straße.de", "DORA@STRAẞE.DE", "dora@stras\u00adse.de",
                 "dora@strasse.de\u200b"]
    outcomes = register_concurrently(kind, [(f"user{i}", spelling) for i, spelling in enumerate(spellings)],
                                     monkeypatch)
    taken = {"email": ["A user with that email already exists."]}
    assert outcomes.count("ok") == 1 and outcomes.count(taken) == 4, outcomes
    assert get_user_model().objects.count() == 1


def test_simultaneous_registrations_of_crossing_identities_do_not_deadlock(transactional_db, settings,
                                                                            monkeypatch):
    """One's username is the other's address and the other way round: both claim both
    identities, and take their locks in one order."""
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    for round in range(8):  # locks taken in opposite orders would deadlock in about every other round
        dave, erin = f"dave{round}@example.com", f"erin{round}@example.com"
        outcomes = register_concurrently("graphql", [(dave, erin), (erin, dave)], monkeypatch)
        assert outcomes == ["ok", "ok"], (round, outcomes)
    assert get_user_model().objects.count() == 16


# --- passwords (API.md §10) -----------------------------------------------------------------


def test_one_reset_link_used_twice_at_once_resets_once(transactional_db, settings, monkeypatch):
    from gql_authtoken.accounts import passwords
    from gql_authtoken.exceptions import InvalidResetToken

    user = get_user_model().objects.create_user("carol", "carol@example.com", "old " + GOOD)
    token = passwords.make_reset_token(user)
    barrier = threading.Barrier(2)
    # Both have checked the link and the new password before either saves.
    monkeypatch.setattr(fields, "password_errors", wait_at(barrier, fields.password_errors))
    candidates = queue.Queue()
    for n in range(2):
        candidates.put(f"{GOOD}-{n}")

    def reset():
        password = candidates.get()
        return password, passwords.reset_password(None, token, password)

    outcomes = run_together(reset)
    successes = [o for o in outcomes if not isinstance(o, Exception)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(successes) == 1 and len(errors) == 1 and isinstance(errors[0], InvalidResetToken), outcomes
    user.refresh_from_db()
    assert user.check_password(successes[0][0])


def test_two_password_changes_with_the_same_old_password_at_once(transactional_db, monkeypatch):
    from gql_authtoken import tokens
    from gql_authtoken.accounts import passwords

    user = get_user_model().objects.create_user("carol", "carol@example.com", "old " + GOOD)
    first, second = tokens.issue_token(user).instance, tokens.issue_token(user).instance
    barrier = threading.Barrier(2)
    monkeypatch.setattr(fields, "password_errors", wait_at(barrier, fields.password_errors))
    sessions = queue.Queue()
    for session in (first, second):
        sessions.put(session)

    def change():
        session = sessions.get()
        return session, passwords.change_password(None, user, session, old_password="old " + GOOD,
                                                  new_password=f"{GOOD}-{session.pk}")

    outcomes = run_together(change)
    successes = [o for o in outcomes if not isinstance(o, Exception)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(successes) == 1 and len(errors) == 1, outcomes
    # The loser waited for the winner's lock, then found another hash than the one it checked.
    assert isinstance(errors[0], ValidationFailed)
    assert [(e.field, e.code) for e in errors[0].errors] == [("old_password", "invalid_password")]
    winner, revoked = successes[0]
    assert revoked == 1
    user.refresh_from_db()
    assert user.check_password(f"{GOOD}-{winner.pk}")
