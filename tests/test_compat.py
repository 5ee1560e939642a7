"""The differential compatibility suite (tests/compat): each library's documented client flow
against the real library and against gql_authtoken after import_tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .compat.differences import DELIBERATE
from .compat.harness import Deliberate, Difference, compare, shape
from .compat.libraries import PROJECTS

ROOT = Path(__file__).resolve().parent.parent


def run_side(project: str, side: str, out: Path, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "tests.compat.run", project, side, str(out)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{project} ({side}):\n{result.stdout[-3000:]}{result.stderr[-5000:]}"
    return json.loads(out.read_text())


def run_project(project: str, tmp_path: Path) -> tuple[dict, dict]:
    from .compat.run import drop_database, recreate_database

    tag = f"{os.environ.get('GQL_AUTHTOKEN_TEST_RUN', 'local')}_{os.getpid()}"
    postgres = bool(os.environ.get("DATABASE_URL"))
    index = list(PROJECTS).index(project)
    legacy_db, migrated_db = ((f"compat{index}_{tag}_legacy", f"compat{index}_{tag}_migrated") if postgres
                              else (str(tmp_path / "legacy.sqlite3"), str(tmp_path / "migrated.sqlite3")))
    env = {**os.environ, "GQL_AUTHTOKEN_COMPAT_CACHE_PREFIX": f"gql_authtoken_compat_{project}_{tag}"}
    if postgres:
        recreate_database(legacy_db)
    try:
        legacy = run_side(project, "legacy", tmp_path / "legacy.json",
                          {**env, "GQL_AUTHTOKEN_COMPAT_DB": legacy_db, "GQL_AUTHTOKEN_COMPAT_SNAPSHOT": migrated_db})
        migrated = run_side(project, "migrated", tmp_path / "migrated.json",
                            {**env, "GQL_AUTHTOKEN_COMPAT_DB": migrated_db,
                             "GQL_AUTHTOKEN_COMPAT_HANDOVER": str(tmp_path / "legacy.json")})
    finally:
        if postgres:
            drop_database(legacy_db)
            drop_database(migrated_db)
    return legacy["steps"], migrated["steps"]


def missing_library(project: str) -> str | None:
    """The first of the project's libraries that is not installed (CI installs them all: ``.[test]``)."""
    from importlib.util import find_spec

    return next((app for app in PROJECTS[project].legacy_apps if find_spec(app.split(".")[0]) is None), None)


@pytest.mark.parametrize("project", list(PROJECTS))
def test_old_clients_meet_only_deliberate_differences(project, tmp_path):
    if missing_library(project) and os.environ.get("CI") != "true":
        pytest.skip(f"{missing_library(project)} is not installed: pip install -e '.[test]'")
    legacy, ours = run_project(project, tmp_path)
    differences = compare(project, legacy, ours)
    unexplained = [d for d in differences if not any(entry.covers(d) for entry in DELIBERATE)]
    stale = [f"{entry.id}: {where}" for entry in DELIBERATE for where in entry.where
             if entry.covers_project(project, where) and not any(entry.covers(d, where) for d in differences)]
    assert not unexplained and not stale, (
        "Differences not listed in tests/compat/differences.py:\n" + "\n".join(map(str, unexplained))
        + "\nListed but gone:\n" + "\n".join(stale))


def test_every_deliberate_difference_is_explained_in_the_migration_guide():
    guide = (ROOT / "docs" / "migrating.md").read_text()
    assert len({entry.id for entry in DELIBERATE}) == len(DELIBERATE)
    assert [entry.id for entry in DELIBERATE if f"| `{entry.id}` |" not in guide] == []
    # And every pattern names a project that exists (a typo would excuse nothing, silently).
    assert [where for entry in DELIBERATE for where in entry.where
            if not any(entry.covers_project(project, where) for project in PROJECTS)] == []


def test_answers_compare_by_status_header_keys_and_types():
    """The comparison itself: list items merge, a key's type and a missing key are differences."""
    assert shape([{"id": 1}, {"id": None, "x": "a"}]) == {"$": "list", "$[]": "object", "$[].id": "int|null",
                                                          "$[].x": "str"}
    assert shape({"expiry": "2025-01-31T12:00:00.123456Z"}) == {"$": "object", "$.expiry": "datetime"}
    legacy = {"login": {"status": "401", "body": "str"}, "facts": {"fact": "true"}}
    ours = {"login": {"status": "400", "body": "object", "body.token": "str"}, "facts": {"fact": "true"},
            "open / submit": {"status": "302"}}
    assert [(d.step, d.aspect, d.legacy, d.ours) for d in compare("p", legacy, ours)] == [
        ("login", "body", "str", "object"), ("login", "body.token", "(absent)", "str"),
        ("login", "status", "401", "400"), ("open / submit", "step", "(absent)", "run")]
    entry = Deliberate("x", (("p", "login", "body*"),), "")
    assert [entry.covers(d) for d in compare("p", legacy, ours)] == [True, True, False, False]
    assert not Deliberate("y", (("p", "sessions", "body[].id"),), "").covers(
        Difference("p", "sessions", "body.id", "int", "str"))  # "[]" is literal, not a character class
