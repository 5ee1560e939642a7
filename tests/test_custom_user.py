"""Swapped user models (email as USERNAME_FIELD; a multi-table child) need their own process: run them there."""

import pytest
from django.db import connection

from .conftest import run_suite_in_subprocess


def test_custom_user_model_suite():
    run_suite_in_subprocess("tests.custom_user.settings", "tests/custom_user/check_custom_user.py")


def test_multi_table_user_model_suite():
    """The password in a parent's table: saves of the parent revoke (brk77)."""
    run_suite_in_subprocess("tests.mti_user.settings", "tests/mti_user/check_mti_user.py")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite serialises writers)")
def test_multi_table_user_model_lock_order_suite():
    run_suite_in_subprocess("tests.mti_user.settings", "tests/mti_user/check_mti_user_locks.py")
