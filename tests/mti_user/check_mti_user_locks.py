"""Run by tests/test_custom_user.py with ``--ds=tests.mti_user.settings`` on PostgreSQL only (row
locks; SQLite serialises writers): a save of a member writes its Account row, then its Member row
(Django's ``_save_parents``); the package's writes must lock them in the same order."""

import pytest

from gql_authtoken import tokens
from tests.adapters import RestAdapter
from tests.test_registration_concurrency import run_concurrently

from .check_mti_user import PASSWORD, _parent_of

# --- lock order: Django saves a member's Account row first, then the Member row (brk85) ----------


def _save_holding_the_account_first(member, holding):
    """A save of the member as Django makes it (the Account row, then the Member row), in a
    transaction that waits, holding the Account row, until the other side took its locks."""
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
