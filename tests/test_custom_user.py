"""A swapped user model (email as USERNAME_FIELD) needs its own process: run it there."""

from .conftest import run_suite_in_subprocess


def test_custom_user_model_suite():
    run_suite_in_subprocess("tests.custom_user.settings", "tests/custom_user/check_custom_user.py")
