"""Run by tests/test_custom_user.py with ``--ds=tests.mti_user.settings`` on PostgreSQL only (row
locks; SQLite serialises writers): a save of a member writes its Account row, then its Member row
(Django's ``_save_parents``); the package's writes must lock them in the same order."""

import pytest

from gql_authtoken import tokens
from tests.adapters import RestAdapter
from tests.test_registration_concurrency import run_concurrently

from .check_mti_user import PASSWORD, _parent_of

# --- lock order: Django saves a member's Account row first, then the Member row (brk85) ----------


def _save_holding_the_account_first(member, holding, committed=None):
    """A save of the member as Django makes it (the Account row, then the Member row), in a
    transaction that waits, holding the Account row, until the other side took its locks; sets
    ``committed`` (an event) once it committed."""
    import time

    from django.db import transaction

    from tests.mti_user.models import Member

    def save():
        with transaction.atomic():
            stored = Member.objects.get(pk=member.pk)
            stored.first_name, stored.nickname = "Alice", "ally"
            _parent_of(member).__class__.objects.filter(pk=member.account_ptr_id).update(first_name="Alice")
            holding.set()
            time.sleep(0.5)
            stored.save()
        if committed is not None:
            committed.set()
        return "saved"

    return save


@pytest.mark.parametrize("how", ["login", "refresh", "rotate"])
def test_a_save_of_the_member_beside_a_login_or_refresh_never_deadlocks(transactional_db, how):
    """Both wait for each other and both succeed; ``lock_user`` and ``require_live`` locked the
    Account row after the Member row (the join), and PostgreSQL aborted one side (a 500)."""
    import threading

    from tests.mti_user.models import Member

    member = Member.objects.create_user("alice", "alice@example.com", PASSWORD, uid=10_000)
    issued = tokens.issue_token(member)
    holding = threading.Event()

    def use_the_token():
        holding.wait(10)
        if how == "login":
            return RestAdapter().login("alice", PASSWORD)[0]
        instance = tokens.authenticate_token(issued.token)
        (tokens.refresh_token if how == "refresh" else tokens.rotate_token)(instance)
        return "ok"

    results = run_concurrently(_save_holding_the_account_first(member, holding), use_the_token)
    assert results == ["saved", "ok"], results


def test_a_save_of_the_member_beside_a_login_that_re_hashes_never_deadlocks(transactional_db, settings):
    """Django's re-hash at a login saves the password, and the check read the stored hash under a
    lock first (``receivers.on_user_saving``): through the Member-Account join, it locked the
    Member row, then waited for the Account row that the save held (a deadlock, a 500)."""
    import threading

    from gql_authtoken.models import AuthToken
    from tests.mti_user.models import Member

    member = Member.objects.create_user("alice", "alice@example.com", PASSWORD, uid=10_000)
    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher", *settings.PASSWORD_HASHERS]
    holding = threading.Event()

    def login():
        holding.wait(10)
        return RestAdapter().login("alice", PASSWORD)[0]

    results = run_concurrently(_save_holding_the_account_first(member, holding), login)
    assert results == ["saved", "ok"], results
    member.refresh_from_db()
    assert member.password.startswith("fast_sha256$")
    assert AuthToken.objects.filter(user=member).count() == 1


def test_fill_password_digests_waits_for_a_save_holding_the_account_row(transactional_db):
    """``models.lock_users`` (the fill, an import, a revocation of several users' tokens) locks each
    user's Account row (which holds the password) first, as ``lock_user`` does: it waits for the
    save holding it, instead of locking only the Member row and reading the hash beside the save."""
    import threading

    from gql_authtoken.models import AuthToken
    from tests.mti_user.models import Member

    member = Member.objects.create_user("alice", "alice@example.com", PASSWORD, uid=10_000)
    tokens.issue_token(member)
    AuthToken.objects.update(password_digest="")
    holding, committed = threading.Event(), threading.Event()

    def fill():
        holding.wait(10)
        filled = tokens.fill_password_digests()
        return filled if committed.is_set() else "did not wait for the Account row"

    results = run_concurrently(_save_holding_the_account_first(member, holding, committed), fill)
    assert results == ["saved", 1], results
    assert AuthToken.objects.select_related("user").get(user=member).rests_on_stored_password()
