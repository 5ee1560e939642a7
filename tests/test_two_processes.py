"""Revocation in one server process is seen at once by another sharing Redis and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from gql_authtoken import services

from .conftest import free_port, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or "redis" not in settings.CACHES["default"]["BACKEND"],
    reason="the two-process test needs PostgreSQL and Redis (set DATABASE_URL and REDIS_URL)",
)


def call(port, path, token, body=None, method="GET"):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={
        "Authorization": f"Token {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def me(port, token):
    status, body = call(port, "/graphql/sync/", token, {"query": "{ me { username } }"}, "POST")
    assert status == 200
    return json.loads(body)["data"]["me"]


@pytest.fixture
def servers(transactional_db):
    db = connection.settings_dict
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.serve", str(p)], cwd=ROOT, env=env) for p in ports]
    try:
        for port, process in zip(ports, processes):
            wait_until_listening(port, process=process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize("revoke_through", ["graphql", "rest"])
def test_logout_in_one_process_is_refused_by_the_other_at_once(servers, user, revoke_through):
    first, second = servers
    token = services.issue_token(user).token
    for port in (first, second, second):  # the second process now answers from the shared cache
        assert me(port, token) == {"username": "alice"}
    assert call(second, "/cached/", token)[0] == 200
    if revoke_through == "graphql":
        assert me(first, token) == {"username": "alice"}
        status, _ = call(first, "/graphql/sync/", token, {"query": "mutation { logout { __typename } }"}, "POST")
    else:
        status, _ = call(first, "/auth/logout/", token, method="POST")
    assert status in (200, 204)
    assert me(second, token) is None
    assert call(second, "/cached/", token)[0] == 401


def test_deactivation_in_this_process_is_seen_by_both(servers, user):
    token = services.issue_token(user).token
    for port in servers:
        assert me(port, token) == {"username": "alice"}
    user.is_active = False
    user.save()
    for port in servers:
        assert me(port, token) is None
