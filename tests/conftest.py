"""Shared fixtures: users, clients, and one GraphQL client per view kind (sync, async)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient
from django.test import Client as DjangoClient

from gql_authtoken.models import Client

PASSWORD = "correct horse battery staple"


def clear_cache() -> None:
    """Empty this run's cache: on Redis only the run's own keys (another run may share the db)."""
    from django.core.cache import cache

    from gql_authtoken import cache as token_cache

    token_cache.forget_recent_hits()  # hits this process would serve without reading the cache
    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def one_throttle_window(monkeypatch):
    """Each test runs in one throttle window: a fixed window ending mid-test (a slow run
    crossing a minute) would reset counts the test relies on. Tests that move time
    patch ``throttling.clock`` themselves."""
    from gql_authtoken import throttling

    start = throttling.clock()
    monkeypatch.setattr(throttling, "clock", lambda: start)


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle buckets live in the cache: every test starts with none."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)


@pytest.fixture
def clients(db):
    from datetime import timedelta

    return {
        "web": Client.objects.create(name="web", token_ttl=timedelta(hours=2)),
        "cli": Client.objects.create(name="cli", token_ttl=None),
    }


def auth_header(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Token {token}"} if token else {}


class AsyncClientAt(AsyncClient):
    """Django's AsyncClient with the client address of its ASGI scope (``REMOTE_ADDR``) set."""

    def __init__(self, remote_addr: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.remote_addr = remote_addr

    def _base_scope(self, **request: Any) -> dict:
        return {**super()._base_scope(**request), "client": [self.remote_addr, 0]}


@dataclass
class GraphQLClient:
    """Posts GraphQL operations as JSON to the sync or the async view."""

    kind: str
    remote_addr: str = "127.0.0.1"  # the client address the server sees

    @property
    def path(self) -> str:
        return f"/graphql/{self.kind}/"

    def post(self, query: str, variables: dict | None = None, token: str | None = None, **headers: str) -> Any:
        """``headers`` by HTTP name with ``_`` for ``-``: ``User_Agent="x"``."""
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        kwargs = {"content_type": "application/json", "headers": {**auth_header(token), **headers}}
        if self.kind == "async":
            client = AsyncClientAt(self.remote_addr, enforce_csrf_checks=True)
            return async_to_sync(client.post)(self.path, body, **kwargs)
        return DjangoClient(enforce_csrf_checks=True, REMOTE_ADDR=self.remote_addr).post(self.path, body, **kwargs)

    def __call__(self, query: str, variables: dict | None = None, token: str | None = None, **headers: str) -> dict:
        response = self.post(query, variables, token, **headers)
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture(params=["sync", "async"])
def gql(request) -> GraphQLClient:
    return GraphQLClient(request.param)


LOGIN = """
mutation Login($username: String!, $password: String!, $client: String) {
  login(username: $username, password: $password, client: $client) {
    __typename
    ... on LoginResult { token expiry user { id username email } session { id client isCurrent ipAddress userAgent } }
    ... on OperationInfo { messages { kind message field code } }
  }
}
"""


def operation_code(payload: dict) -> str | None:
    """The code of an OperationInfo payload, None for a success type."""
    if payload["__typename"] != "OperationInfo":
        return None
    [message] = payload["messages"]
    return message["code"]


@pytest.fixture
def login_token(user):
    """A token for ``user`` issued by the core (no client)."""
    from gql_authtoken import tokens

    return tokens.issue_token(user).token


def pytest_report_header(config):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    lines = [f"gql_authtoken: database {engine}, cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"]
    if engine == "sqlite3":
        lines.append("gql_authtoken: PostgreSQL not used (set DATABASE_URL=postgres://... to run on it); "
                     "without PostgreSQL and Redis the revocation matrix has no second-process column")
    if "redis" not in settings.CACHES["default"]["BACKEND"]:
        lines.append("gql_authtoken: Redis not used; the file-based cache stands in for a shared cache "
                     "(set REDIS_URL=redis://127.0.0.1:6379/1 to run on it)")
    return lines


def cache_contents() -> dict[str, bytes]:
    """Every key (or file name) and raw stored value of the default cache (files, local memory or Redis)."""

    from django.core.cache import cache

    if hasattr(cache, "_dir"):  # FileBasedCache: one file per key, its name a hash of the key
        return {path.name: path.read_bytes() for path in Path(cache._dir).glob(f"*{cache.cache_suffix}")}
    if hasattr(cache, "_cache") and isinstance(cache._cache, dict):  # LocMemCache: pickled values
        return {key: value for key, value in cache._cache.items()}
    client = cache._cache.get_client()
    return {key.decode(): client.get(key) for key in client.keys(f"{cache.key_prefix}*")}


@pytest.fixture(params=["graphql-sync", "graphql-async", "rest"])
def adapter(request):
    """The same client operations through each adapter (see tests/adapters.py)."""
    from .adapters import GraphQLAdapter, RestAdapter

    return RestAdapter() if request.param == "rest" else GraphQLAdapter(request.param.split("-")[1])


@pytest.fixture
def admin_client(db):
    """A Django test client logged in as a superuser."""
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = DjangoClient()
    client.force_login(admin)
    return client


@contextlib.contextmanager
def as_of_migration(name: str):
    """The database migrated back to gql_authtoken's migration ``name`` for the block, which gets
    that state's apps (to write rows as that release did); migrated forward to the latest after
    it, whatever happened (a transactional_db test)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("gql_authtoken")
    target = [("gql_authtoken", name)]
    executor.migrate(target)
    try:
        yield executor.loader.project_state(target).apps
    finally:
        MigrationExecutor(connection).migrate(latest)


def run_suite_in_subprocess(settings_module: str, path: str) -> None:
    """Run a test file under other Django settings (a swapped user model, extra apps)."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--ds={settings_module}", path],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=300,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout and "skipped" not in result.stdout


def logged_text(records) -> str:
    """All that log records say, formatted as a handler would: messages, tracebacks, stack info."""
    import logging

    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in records)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_listening(port: int, *, process=None, timeout: float = 30) -> None:
    """Wait for a server on ``port``; fail early if its ``process`` exits."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process is None or process.poll() is None, "the server process exited"
            assert time.monotonic() < deadline, f"nothing listens on port {port}"
            time.sleep(0.1)


@contextlib.contextmanager
def server_processes(env: dict[str, str], count: int):
    """``count`` WSGI server processes (``tests/serve.py``) with ``env``; yields their ports."""
    import subprocess
    import sys

    ports = [free_port() for _ in range(count)]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.serve", str(port)],
                                  cwd=Path(__file__).resolve().parent.parent, env=env) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_until_listening(port, process=process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def http_json(port: int, path: str, token: str | None = None, *, json_body: dict | None = None,
              form: dict | None = None, method: str | None = None) -> tuple[int, Any]:
    """One request to a server on ``port``: its status and decoded JSON body (None when empty or not JSON)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    headers = {"Authorization": f"Token {token}"} if token else {}
    data = None
    if json_body is not None:
        data, headers["Content-Type"] = json.dumps(json_body).encode(), "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, None


@contextlib.contextmanager
def example_server():
    """The example project (``make example``), migrated into a fresh SQLite file with its demo
    user and its own cache directory, served by its ``runserver`` (daphne: HTTP and WebSocket);
    yields the port."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    root = Path(__file__).resolve().parent.parent
    port = free_port()
    directory = tempfile.mkdtemp()
    # Its own SQLite file and file cache: not the run's database, and not its Redis, where the example's
    # keys (no KEY_PREFIX) would outlive the run and share throttle counts with other runs.
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["EXAMPLE_SQLITE_PATH"] = str(Path(directory) / "example.sqlite3")
    env["EXAMPLE_CACHE_DIR"] = str(Path(directory) / "cache")  # not the throttle counts of a running example
    env["EXAMPLE_PORT"] = str(port)  # as `make example PORT=...`: its mailed links point at this server
    # This checkout's package, also where the virtualenv has another one installed in editable mode.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    manage = [sys.executable, str(root / "example_schema" / "manage.py")]
    _EXAMPLE_MANAGE[port] = lambda *command: subprocess.run(manage + list(command), env=env, check=True,
                                                            capture_output=True, timeout=120)
    for command in (["migrate", "--noinput", "-v0"], ["demo_user"]):
        example_manage(port, *command)
    server = subprocess.Popen(manage + ["runserver", "--noreload", f"127.0.0.1:{port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, process=server, timeout=60)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(directory, ignore_errors=True)
        del _EXAMPLE_MANAGE[port]


_EXAMPLE_MANAGE: dict[int, Any] = {}


def example_manage(port: int, *command: str) -> Any:
    """Run ``manage.py <command>`` of the example served on ``port`` (``example_server``), on its database."""
    return _EXAMPLE_MANAGE[port](*command)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def browser_missing(*, npm: bool = False) -> str | None:
    """What the browser tests lack (Debian's chromium, the playwright package, with ``npm`` npm), or None."""
    if not Path(CHROMIUM).exists():
        return "no chromium (apt-get install chromium)"
    if npm and shutil.which("npm") is None:
        return "no npm"
    if importlib.util.find_spec("playwright") is None:
        return "no playwright (pip install playwright)"
    return None


def skip_without_browser(*, npm: bool = False) -> None:
    """Skip the calling test module when ``browser_missing``; under ``CI=true`` it runs and fails instead."""
    reason = browser_missing(npm=npm)
    if reason and os.environ.get("CI") != "true":
        pytest.skip(f"browser test skipped: {reason}", allow_module_level=True)


# ``settings.ADMINS`` for tests of the admins' error mails: Django 6 takes addresses and
# deprecates (name, address) pairs, which Django 5.2 still needs.
ADMINS = ["admin@example.com"] if django.VERSION >= (6,) else [("Admin", "admin@example.com")]
