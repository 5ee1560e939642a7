"""Project hygiene a user relies on: migrations match the models, the example project checks."""

import re
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

ROOT = Path(__file__).resolve().parent.parent


def test_migrations_are_current(db):
    call_command("makemigrations", "gql_authtoken", "--check", "--dry-run", verbosity=0)


def test_example_project_passes_checks_and_serves_its_schema(tmp_path):
    env = {"PATH": "", "DJANGO_SETTINGS_MODULE": "example.settings", "PYTHONPATH": str(ROOT)}
    script = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('check', '--fail-level', 'WARNING');"
        "from example.schema import schema; print(schema.as_str());"
        f"from strawberry.printer import print_schema; open({str(tmp_path / 'schema.graphql')!r}, 'w')"
        ".write(print_schema(schema));"
        # The recommended limits: 15 aliases pass validation, 16 do not; huge documents are refused.
        "aliases = lambda n: '{ ' + ' '.join(f'a{i}: __typename' for i in range(n)) + ' }';"
        "print('15 aliases:', schema.execute_sync(aliases(15)).errors);"
        "print('16 aliases:', schema.execute_sync(aliases(16)).errors[0].message);"
        "print('tokens:', schema.execute_sync('{ ' + '__typename ' * 3000 + '}').errors[0].message)"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "example_schema", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    current = (ROOT / "docs" / "schema.graphql").read_text()
    assert (tmp_path / "schema.graphql").read_text() == current, "docs/schema.graphql is stale: run `make schema`"
    assert "15 aliases: None" in result.stdout
    assert "16 aliases: 16 aliases found. Allowed: 15" in result.stdout
    assert "tokens: Syntax Error: Document contains more than 2000 tokens." in result.stdout
    for name in ("myNotes: [NoteType!]!", "addNote(text: String!): AddNotePayload!", "login(", "sessions:",
                 "register(", "confirmEmail(", "resendConfirmationEmail(",
                 "myNoteCount(times: Int! = 5): Int!"):
        assert name in result.stdout


def test_make_example_serves_on_another_port_and_its_links_follow():
    """`make example PORT=8123`: the server and the example's mailed links (EXAMPLE_PORT)."""
    dry = subprocess.run(["make", "-n", "example", "PORT=8123"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert dry.returncode == 0, dry.stderr
    # The venv is whatever VENV the caller's make passed down (.venv, or CI's own).
    assert re.search(r"EXAMPLE_PORT=8123 \S+/bin/python example_schema/manage.py runserver 127\.0\.0\.1:8123",
                     dry.stdout), dry.stdout
    script = ("from django.conf import settings; import django; django.setup(); c = settings.GQL_AUTHTOKEN;"
              "print(c['REGISTRATION_EMAIL']['BASE_URL'], c['PASSWORD_RESET_URL'])")
    env = {"PATH": "", "DJANGO_SETTINGS_MODULE": "example.settings", "PYTHONPATH": str(ROOT), "EXAMPLE_PORT": "8123"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT / "example_schema", env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["http://127.0.0.1:8123", "http://127.0.0.1:8123/reset-password/{token}"], (
        result.stderr)


def test_clearing_the_cache_between_tests_spares_other_runs_keys():
    """Two runs on one machine may share a Redis db (see .ci/run): each deletes only its own keys."""
    from django.core.cache import cache

    from .conftest import clear_cache

    cache.set("mine", 1)
    if hasattr(getattr(cache, "_cache", None), "get_client"):  # Redis: another run's key in the same db
        client = cache._cache.get_client(write=True)
        client.set("another_run:1:key", b"1")
        clear_cache()
        assert client.get("another_run:1:key") == b"1"
        client.delete("another_run:1:key")
    else:
        clear_cache()  # the file cache lives in this run's own directory
    assert cache.get("mine") is None


def test_no_merge_conflict_markers_are_left_in_the_tree():
    """A conflict once survived in a docstring: Python parsed it, and nothing else looked."""
    root = Path(__file__).resolve().parent.parent
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    marker = re.compile(r"^(<{7} |={7}$|>{7} )", re.MULTILINE)
    texts = (root / name for name in tracked if name.endswith((".py", ".md", ".toml", ".yml", ".cfg", ".txt", ".html")))
    assert [str(path.relative_to(root)) for path in texts if path.is_file() and marker.search(path.read_text())] == []
