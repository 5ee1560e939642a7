"""A fresh project on default settings is never stale across processes, and says why it does not cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from gql_authtoken import cache as token_cache

from .conftest import PASSWORD, http_json, server_processes

ROOT = Path(__file__).resolve().parent.parent


def _accepted(port, token):
    status, _ = http_json(port, "/cached/", token)
    _, body = http_json(port, "/graphql/sync/", token, json_body={"query": "{ me { username } }"})
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
    manage("shell", "-c",
           f"from django.contrib.auth.models import User; User.objects.create_user('alice', '', {PASSWORD!r})")
    manage.env = env
    return manage


@pytest.fixture
def workers(project):
    with server_processes(project.env, 2) as ports:
        yield ports


def _login(port):
    status, body = http_json(port, "/auth/login/", form={"username": "alice", "password": PASSWORD})
    assert status == 200
    return body["token"]


def test_two_workers_on_default_settings_agree_about_a_logout(project, workers):
    first, second = workers
    token = _login(first)
    for port in (first, second, second, first):
        assert _accepted(port, token)
    assert http_json(first, "/auth/logout/", token, method="POST")[0] == 204
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
    assert "gql_authtoken.W011" in output  # startproject's SQLite: concurrent logins can fail


@pytest.mark.parametrize(("database", "warned"), [
    ({"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}, True),
    ({"ENGINE": "django.contrib.gis.db.backends.spatialite", "NAME": "geo.sqlite3"}, True),
    ({"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"transaction_mode": "DEFERRED"}}, True),
    ({"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"transaction_mode": "IMMEDIATE"}}, False),
    ({"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {"transaction_mode": "exclusive"}}, False),
    ({"ENGINE": "django.db.backends.postgresql", "NAME": "app"}, False),
])
def test_sqlite_without_immediate_transactions_is_warned(database, warned):
    from django.db import connection

    from gql_authtoken.checks import sqlite_transaction_mode_warnings

    vendor = "postgresql" if "postgresql" in database["ENGINE"] else "sqlite"
    messages = sqlite_transaction_mode_warnings("default", database, vendor=vendor)
    assert [m.id for m in messages] == (["gql_authtoken.W011"] if warned else [])
    if warned:
        assert '"transaction_mode": "IMMEDIATE"' in messages[0].hint
    # The test database itself: SQLite as Django's tests run it, without the option.
    assert ("gql_authtoken.W011" in {m.id for m in run_checks()}) is (connection.vendor == "sqlite")


LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
FILES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache"}}
# Configured only, never connected to: the checks look at the backend's kind.
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}


def _cache_check_ids():
    return sorted(m.id for m in run_checks() if m.id and m.id in {
        "gql_authtoken.W003", "gql_authtoken.W004", "gql_authtoken.W005", "gql_authtoken.E014"})


NO_THROTTLING = {"LOGIN_THROTTLE_RATE": None, "LOGIN_ACCOUNT_THROTTLE_RATE": None, "ACCOUNT_THROTTLE_RATE": None}


@pytest.mark.parametrize(("caches", "options", "expected"), [
    (LOCMEM, {}, ["gql_authtoken.W003", "gql_authtoken.W004"]),
    (LOCMEM, {"TOKEN_CACHE_TIMEOUT": 0}, ["gql_authtoken.W004"]),
    (LOCMEM, {"TOKEN_CACHE_TIMEOUT": 0, **NO_THROTTLING}, []),
    (LOCMEM, {"TOKEN_CACHE_TIMEOUT": 0, **NO_THROTTLING, "LOGIN_ACCOUNT_THROTTLE_RATE": "100/hour"},
     ["gql_authtoken.W004"]),
    (DUMMY, {}, ["gql_authtoken.E014", "gql_authtoken.W003"]),
    (DUMMY, NO_THROTTLING, ["gql_authtoken.W003"]),
    (DUMMY, {**NO_THROTTLING, "LOGIN_ACCOUNT_THROTTLE_RATE": "100/hour"}, ["gql_authtoken.E014", "gql_authtoken.W003"]),
    (FILES, {}, ["gql_authtoken.W005"]),  # shared, but its counters are not atomic
    (FILES, NO_THROTTLING, []),
    (REDIS, {}, []),
])
def test_cache_checks(caches, options, expected, tmp_path):
    if caches is FILES:
        caches = {"default": {**FILES["default"], "LOCATION": str(tmp_path)}}
    with override_settings(GQL_AUTHTOKEN=options, CACHES=caches):
        assert _cache_check_ids() == expected
        assert token_cache.enabled() is (caches not in (LOCMEM, DUMMY))


@override_settings(CACHES=LOCMEM)
def test_a_process_local_cache_is_never_used_for_tokens(db, django_assert_num_queries):
    from django.contrib.auth import get_user_model

    from gql_authtoken import tokens

    user = get_user_model().objects.create_user("alice", "", PASSWORD)
    token = tokens.issue_token(user).token
    for _ in range(3):
        with django_assert_num_queries(1):
            tokens.authenticate_token(token, use_cache=True)


def test_a_cache_whose_client_library_is_missing_is_an_error(monkeypatch):
    """Django's RedisCache imports redis only at first use: without it every login would be
    refused as throttled, with nothing at start-up saying why."""
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    with override_settings(CACHES=REDIS):
        [error] = [m for m in run_checks() if m.id == "gql_authtoken.E030"]
    assert "ModuleNotFoundError" in error.msg or "ImportError" in error.msg
    assert "pip install redis" in error.hint
    monkeypatch.undo()  # redis importable again
    with override_settings(CACHES=REDIS):
        assert "gql_authtoken.E030" not in {m.id for m in run_checks()}  # installed: no error
