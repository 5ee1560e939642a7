"""A fresh project on default settings is never stale across processes, and says why it does not cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from gql_authtoken import cache as token_cache

from .conftest import PASSWORD, free_port, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent


def _request(port, path, token=None, data=None, method=None):
    headers = {"Authorization": f"Token {token}"} if token else {}
    if isinstance(data, dict) and "query" in data:
        data, headers["Content-Type"] = json.dumps(data).encode(), "application/json"
    elif isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def _accepted(port, token):
    status, _ = _request(port, "/cached/", token)
    _, body = _request(port, "/graphql/sync/", token, {"query": "{ me { username } }"})
    assert (status == 200) == (body["data"]["me"] is not None)
    return status == 200


@pytest.fixture
def project(tmp_path):
    """Run ``django-admin`` commands of the fresh project; its database is migrated, with one user."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.default_settings",
           "GQL_AUTHTOKEN_DEFAULT_DB": str(tmp_path / "db.sqlite3")}

    def manage(*args):
        result = subprocess.run([sys.executable, "-m", "django", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    manage("migrate", "--noinput")
    manage("shell", "-c", f"from django.contrib.auth.models import User; User.objects.create_user('alice', '', {PASSWORD!r})")
    manage.env = env
    return manage


@pytest.fixture
def workers(project):
    ports = [free_port(), free_port()]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.serve", str(port)], cwd=ROOT, env=project.env)
                 for port in ports]
    try:
        for port, process in zip(ports, processes):
            wait_until_listening(port, process=process)
        yield ports
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _login(port):
    status, body = _request(port, "/auth/login/", data={"username": "alice", "password": PASSWORD})
    assert status == 200
    return body["token"]


def test_two_workers_on_default_settings_agree_about_a_logout(project, workers):
    first, second = workers
    token = _login(first)
    for port in (first, second, second, first):
        assert _accepted(port, token)
    assert _request(first, "/auth/logout/", token, method="POST")[0] == 204
    assert not _accepted(second, token)
    assert not _accepted(first, token)


def test_a_command_reaches_running_workers(project, workers):
    tokens = [_login(port) for port in workers]
    for port in workers * 2:
        assert all(_accepted(port, token) for token in tokens)
    assert "Revoked 2 token(s)." in project("revoke_all_tokens", "--force")
    for port in workers:
        assert not any(_accepted(port, token) for token in tokens)


def test_check_says_why_the_default_cache_is_not_used(project):
    output = project("check")
    assert "gql_authtoken.W003" in output and "gql_authtoken.W004" in output


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def _cache_check_ids():
    return sorted(m.id for m in run_checks() if m.id and m.id in {
        "gql_authtoken.W003", "gql_authtoken.W004", "gql_authtoken.E014"})


@pytest.mark.parametrize(("caches", "options", "expected"), [
    (LOCMEM, {}, ["gql_authtoken.W003", "gql_authtoken.W004"]),
    (LOCMEM, {"TOKEN_CACHE_TIMEOUT": 0}, ["gql_authtoken.W004"]),
    (LOCMEM, {"TOKEN_CACHE_TIMEOUT": 0, "LOGIN_THROTTLE_RATE": None, "ACCOUNT_THROTTLE_RATE": None}, []),
    (DUMMY, {}, ["gql_authtoken.E014", "gql_authtoken.W003"]),
    (DUMMY, {"LOGIN_THROTTLE_RATE": None, "ACCOUNT_THROTTLE_RATE": None}, ["gql_authtoken.W003"]),
    (None, {}, []),  # the suite's own shared cache (files or Redis)
])
def test_cache_checks(caches, options, expected):
    with override_settings(GQL_AUTHTOKEN=options, **({"CACHES": caches} if caches else {})):
        assert _cache_check_ids() == expected
        assert token_cache.enabled() is (caches is None)


@override_settings(CACHES=LOCMEM)
def test_a_process_local_cache_is_never_used_for_tokens(db, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from gql_authtoken import services

    user = get_user_model().objects.create_user("alice", "", PASSWORD)
    token = services.issue_token(user).token
    for _ in range(3):
        with django_assert_num_queries(1):
            services.authenticate_token(token, use_cache=True)
