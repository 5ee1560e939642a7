"""import_tokens against the real token libraries: their own settings, in their own process."""

from .conftest import run_suite_in_subprocess


def test_import_tokens_suite():
    run_suite_in_subprocess("tests.legacy.settings", "tests/legacy/check_import.py")
