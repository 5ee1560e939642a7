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


def test_a_deletion_of_several_members_and_lock_users_never_deadlock(transactional_db):
    """brk87: a deletion of several members (the admin's "delete selected") locked them one by
    one in member key order (Account row, then Member row, each), while ``lock_users`` (a
    revocation of several users' tokens, the fill, an import) locks every Account row first, in
    account key order: with the two orders apart (x: the smaller member key, the larger account
    key) each held a row the other waited for. The deletion now locks all its members at once,
    in ``lock_users``' order."""
    import threading
    import time

    from django.db import transaction

    from gql_authtoken import models
    from gql_authtoken.models import AuthToken
    from tests.mti_user.models import Account, Member

    x = Member.objects.create_user("x", "x@example.com", PASSWORD, uid=10_001, id=20_009)
    y = Member.objects.create_user("y", "y@example.com", PASSWORD, uid=10_002, id=20_003)
    for user in (x, y):
        tokens.issue_token(user)
    holding = threading.Event()

    def revoke_several():
        with transaction.atomic():
            # As lock_users goes: y's Account row (the smaller key) first, then on to x's.
            list(Account.objects.select_for_update().filter(pk=y.account_ptr_id).values_list("pk"))
            holding.set()
            time.sleep(0.5)  # the deletion starts meanwhile
            models.lock_users([x.pk, y.pk])
        return "locked"

    def delete_both():
        holding.wait(10)
        Member.objects.filter(pk__in=[x.pk, y.pk]).delete()
        return "deleted"

    assert run_concurrently(revoke_several, delete_both) == ["locked", "deleted"]
    assert not Member.objects.exists() and not AuthToken.objects.exists()
