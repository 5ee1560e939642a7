"""import_tokens against the real token libraries: their own settings, in their own process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_tokens_suite():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ds=tests.legacy.settings",
         "tests/legacy/check_import.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout
