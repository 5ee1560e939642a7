"""The README's shell block, pasted as written, against the running example."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import example_server

README = Path(__file__).resolve().parent.parent / "README.md"
BASE_LINE = "BASE=http://127.0.0.1:8000"


def readme_block(heading: str) -> str:
    section = README.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, re.S)
    return block


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's commands need curl")
def test_the_readme_curl_block_works_as_written():
    block = readme_block("## Sending the token")
    assert BASE_LINE in block
    with example_server() as port:
        script = block.replace(BASE_LINE, f"BASE=http://127.0.0.1:{port}")  # the example's port in this test
        result = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", script], capture_output=True, text=True,
                                timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    answers = [json.loads(line) for line in lines[:-2] if line.startswith(("{", "["))]
    note, read, logout, after, sessions, api_key = answers
    assert note == {"data": {"addNote": {"text": "hello"}}}
    assert read["data"]["me"] == {"username": "demo"} and read["data"]["myNotes"] == [{"text": "hello"}]
    assert read["data"]["sessions"] == [{"client": "cli", "isCurrent": True}]
    assert logout == {"data": {"logout": {"revokedSessions": 1}}}
    assert after == {"data": {"me": None}}
    assert [s["is_current"] for s in sessions] == [True]
    assert set(api_key) == {"token", "expiry"}
    assert lines[-2] == "204"
    assert json.loads(lines[-1]) == {"success": True}
