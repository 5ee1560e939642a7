"""Hits a process serves from its own memory (``TOKEN_LOCAL_CACHE_TIMEOUT``), and the wait that
keeps them from outliving a revocation in any process (docs/performance.md, "Zero round trips")."""

from __future__ import annotations

import os
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client as DjangoClient

from gql_authtoken import cache as token_cache
from gql_authtoken import cache_access, tokens
from gql_authtoken.models import AuthToken

from .benchmarks.harness import counting_cache_calls
from .conftest import http_json, server_processes
from .test_revocation import ROOT, SHARED

WINDOW = 0.05


@pytest.fixture
def now(monkeypatch):
    """The monotonic clock of the local hits, moved by hand: ``now[0] += seconds``; and this
    process's window already published, as after its first read (see the test below)."""
    current = [1000.0]
    monkeypatch.setattr(cache_access, "monotonic", lambda: current[0])
    token_cache._cache().set(token_cache.WINDOW, WINDOW, None)
    return current


def test_no_hit_is_kept_on_the_read_that_had_to_publish_the_window(user, login_token, now):
    """A revocation may read the old window between that read and the publish, and wait too
    little for a hit kept on it; the next read, after the publish, keeps."""
    for published in (None, WINDOW / 2):
        token_cache._cache().set(token_cache.WINDOW, published, None)
        with counting_cache_calls() as calls:
            tokens.authenticate_token(login_token, use_cache=True)  # reads; publishes; keeps nothing
            assert token_cache._cache().get(token_cache.WINDOW) == WINDOW
            tokens.authenticate_token(login_token, use_cache=True)  # reads again; keeps
            tokens.authenticate_token(login_token, use_cache=True)  # from memory
        assert calls.count("get_many") == 2
        token_cache.forget_recent_hits()


def test_a_hit_within_the_window_reads_nothing_and_one_after_it_reads_again(
    user, login_token, now, django_assert_num_queries
):
    tokens.authenticate_token(login_token, use_cache=True)  # miss: loaded, stored, kept
    with django_assert_num_queries(0), counting_cache_calls() as calls:
        for _ in range(3):
            assert tokens.authenticate_token(login_token, use_cache=True).user == user
    assert calls == []
    now[0] += WINDOW + 0.001
    with django_assert_num_queries(0), counting_cache_calls() as calls:
        tokens.authenticate_token(login_token, use_cache=True)
        tokens.authenticate_token(login_token, use_cache=True)
    assert calls == ["get_many"]  # the window ran out: one read, which starts a new window


@pytest.mark.parametrize("client", [None, "web"])
def test_each_hit_is_its_own_copy(user, clients, client, now):
    login_token = tokens.issue_token(user, client=clients[client] if client else None).token
    tokens.authenticate_token(login_token, use_cache=True)
    first = tokens.authenticate_token(login_token, use_cache=True)
    first.user.first_name = "changed by a view, never saved"
    second = tokens.authenticate_token(login_token, use_cache=True)
    assert second is not first and second.user is not first.user
    assert second.user.first_name == ""
    assert "password" not in second.user.__dict__  # the hash is no more in memory than in the cache
    second.last_used = None
    second._state.fields_cache.pop("user")
    third = tokens.authenticate_token(login_token, use_cache=True)
    assert third.last_used is not None and third.user == user  # nor what one request did to its token
    if client:
        second.client.name = "renamed in one request"
        assert tokens.authenticate_token(login_token, use_cache=True).client.name == client


def test_this_process_sees_its_own_changes_at_once(user, login_token, now):
    """A mark written here drops this process's kept hits: no wait, no stale copy."""
    tokens.authenticate_token(login_token, use_cache=True)
    user.first_name = "Alice"
    user.save()
    assert tokens.authenticate_token(login_token, use_cache=True).user.first_name == "Alice"
    AuthToken.objects.filter(user=user).delete()
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)


def test_expiry_is_checked_on_every_kept_hit(user, login_token, now, monkeypatch):
    from gql_authtoken import clock

    instance = tokens.authenticate_token(login_token, use_cache=True)
    later = instance.expiry + (instance.expiry - instance.created)
    monkeypatch.setattr(clock, "now", lambda: later)
    with pytest.raises(tokens.TokenExpired):
        tokens.authenticate_token(login_token, use_cache=True)


def test_timeout_zero_keeps_nothing(user, login_token, now, settings):
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0}
    tokens.authenticate_token(login_token, use_cache=True)
    with counting_cache_calls() as calls:
        tokens.authenticate_token(login_token, use_cache=True)
    assert calls == ["get_many"]


@pytest.fixture
def sleeps(monkeypatch):
    """The waits of revocations, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(token_cache, "_wait_out_recent_hits", lambda: waited.append(token_cache.local_timeout()))
    return waited


def test_a_revocation_waits_once_after_its_commit(transactional_db, user, sleeps):
    issued = [tokens.issue_token(user).token for _ in range(20)]
    for token in issued:
        tokens.authenticate_token(token, use_cache=True)
    sleeps.clear()
    with transaction.atomic():
        AuthToken.objects.filter(user=user).delete()  # a mark per row, as the admin or shell deletes
        assert sleeps == []  # nothing waits inside the transaction
    assert sleeps == [WINDOW]  # one write of the 20 marks at the commit, one wait
    for token in issued:
        with pytest.raises(tokens.InvalidToken):
            tokens.authenticate_token(token, use_cache=True)


def test_a_rolled_back_transaction_leaves_no_batch_behind(transactional_db, user, login_token, sleeps, monkeypatch):
    """Marks made after a rollback are written at the next commit (the rolled-back callback is gone)."""
    with pytest.raises(RuntimeError), transaction.atomic():
        AuthToken.objects.filter(user=user).delete()
        raise RuntimeError("rolled back")
    assert AuthToken.objects.filter(user=user).count() == 1
    tokens.authenticate_token(login_token, use_cache=True)
    written = []
    real_write = cache_access.write_marks
    monkeypatch.setattr(cache_access, "write_marks",
                        lambda marks, timeout: (written.append(sorted(marks)), real_write(marks, timeout)))
    with transaction.atomic():
        AuthToken.objects.filter(user=user).delete()
    assert len(written) == 2 and written[0] == written[1]  # at once, and again at the commit
    assert sleeps == [WINDOW]


def test_a_refill_racing_a_committed_revocation_is_not_kept_past_its_wait(transactional_db, user, login_token,
                                                                        now, monkeypatch):
    """A request reads the row, then a revocation commits and returns before that request keeps its
    hit: the kept hit rests on a read older than the window, so the next request reads again."""
    def sleep(seconds):  # the revocation's wait moves the clock of the local hits
        now[0] += seconds

    monkeypatch.setattr(token_cache.time, "sleep", sleep)
    real_load = tokens.load_token

    def load_then_revoke(digest, legacy_digest=None):
        instance = real_load(digest, legacy_digest)
        tokens.revoke_all_tokens(user)  # another thread of this process, between our read and our keep
        return instance

    monkeypatch.setattr(tokens, "load_token", load_then_revoke)
    tokens.authenticate_token(login_token, use_cache=True)  # the racing request itself
    monkeypatch.setattr(tokens, "load_token", real_load)
    assert token_cache._recent  # kept, on its read from before the revocation
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)


@pytest.mark.parametrize("change", ["name", "refresh"])
def test_changes_that_revoke_nothing_do_not_wait(transactional_db, user, login_token, sleeps, change):
    instance = tokens.authenticate_token(login_token, use_cache=True)
    if change == "name":
        get_user_model().objects.get(pk=user.pk).save()
    else:
        tokens.refresh_token(instance)
    assert sleeps == []


def test_logout_over_http_takes_the_window(transactional_db, user, login_token, settings):
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0.3}
    started = time.monotonic()
    response = DjangoClient().post("/auth/logout/", headers={"Authorization": f"Token {login_token}"})
    assert response.status_code == 204
    assert time.monotonic() - started >= 0.3


# --- two processes: the wait is what keeps a revoked token from being served elsewhere ---------

LONG_WINDOW = 1.0


@pytest.fixture(scope="module")
def keeping_server(django_db_setup, django_db_blocker):
    """A server process on the test database and the shared Redis that keeps hits for a second."""
    if not SHARED:
        pytest.skip("needs PostgreSQL and Redis shared by two processes (DATABASE_URL, REDIS_URL)")
    db = connection.settings_dict
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.revocation_settings",
           "GQL_AUTHTOKEN_TEST_LOCAL_TIMEOUT": str(LONG_WINDOW),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    with server_processes(env, 1) as (port,):
        yield port


def _accepted(port, token):
    status, _ = http_json(port, "/cached/", token)
    assert status in (200, 401), status
    return status == 200


@pytest.mark.parametrize("wait", ["own", "published", "none"])
def test_another_process_never_serves_a_token_revoked_here(transactional_db, keeping_server, user, settings,
                                                           monkeypatch, wait):
    """With the wait, the server refuses the token on the first request after the logout
    returned: this process waits its own window, or (its own setting being 0, as a command's
    or an older deploy's might be) the one the server published. Without any wait, the server
    still serves it: the wait is what the guarantee rests on."""
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": LONG_WINDOW if wait == "own" else 0}
    if wait == "none":
        monkeypatch.setattr(token_cache, "_wait_out_recent_hits", lambda: None)
    token = tokens.issue_token(user).token
    assert _accepted(keeping_server, token)
    assert _accepted(keeping_server, token)  # kept: served from the server's memory from now on
    started = time.monotonic()
    tokens.logout(None, AuthToken.objects.get(user=user))
    if wait != "none":
        assert time.monotonic() - started >= LONG_WINDOW
        assert not _accepted(keeping_server, token)
    else:
        assert _accepted(keeping_server, token), "the server did not keep its hit: this test shows nothing"


def test_a_revocation_waits_the_longest_window_any_process_published(transactional_db, user, login_token,
                                                                     settings, monkeypatch):
    """A process keeping hits for 0.3 s publishes it; a revoking process whose own setting is 0
    (a command, a worker on older settings) still waits 0.3 s."""
    import types

    waited = []
    fake_time = types.SimpleNamespace(sleep=waited.append, time=time.time, monotonic=time.monotonic)
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0.3}
    tokens.authenticate_token(login_token, use_cache=True)  # kept: 0.3 published
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0}
    monkeypatch.setattr(token_cache, "time", fake_time)
    tokens.logout(None, AuthToken.objects.get(user=user))
    assert waited == [0.3]


def test_a_revocation_right_after_a_cache_error_returns_once_its_marks_are_written(
    transactional_db, user, login_token, monkeypatch
):
    """A blip a moment ago (the cache counted as down, its next retry a moment away) must not
    let a revocation return with its marks unwritten while processes that saw no error serve
    the token: it waits for the retry thread to write them."""
    monkeypatch.setattr(cache_access, "RETRY_INTERVAL", 0.3)
    real_recover, calls = cache_access._recover, []

    def recover_after_the_blip():
        calls.append(1)
        return len(calls) > 1 and real_recover()  # the retry thread's first try still fails

    monkeypatch.setattr(cache_access, "_recover", recover_after_the_blip)
    tokens.authenticate_token(login_token, use_cache=True)
    cache_access._failed(ConnectionError("a blip"))
    try:
        tokens.logout(None, AuthToken.objects.get(user=user))
        assert cache_access.pending() == {} and not cache_access.is_down()
    finally:
        cache_access.reset()
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)


def test_saving_a_token_row_drops_its_cached_copies(user, login_token, now):
    """Code that saves a token (an expiry moved into the past) is seen at once, like a revocation."""
    from datetime import timedelta

    from gql_authtoken import clock

    tokens.authenticate_token(login_token, use_cache=True)
    row = AuthToken.objects.get(user=user)
    row.expiry = clock.now() - timedelta(seconds=1)
    row.save()
    with pytest.raises(tokens.TokenExpired):
        tokens.authenticate_token(login_token, use_cache=True)


# --- found by a breaker: a settings switch mid-lookup, a window published after the read --------


def test_a_process_whose_token_cache_was_turned_off_serves_no_kept_hit_after_a_revocation(
        transactional_db, user, login_token, settings, monkeypatch, now):
    """The settings change (another thread's override_settings) lands between a hit's read and its keep."""
    settings.CACHES = {**settings.CACHES, "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    tokens.authenticate_token(login_token, use_cache=True)
    token_cache.forget_recent_hits()
    real_read = token_cache._read_many

    def read_then_switch(cache, keys):
        found = real_read(cache, keys)
        settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_ALIAS": "local"}
        return found

    monkeypatch.setattr(token_cache, "_read_many", read_then_switch)
    tokens.authenticate_token(login_token, use_cache=True)
    monkeypatch.setattr(token_cache, "_read_many", real_read)
    assert not token_cache.enabled() and not token_cache._recent  # not kept once the cache is off
    token_cache._recent[tokens.token_digests(login_token)] = (now[0] + 1, time.time() + 60,
                                                              token_cache.CachedToken(
                                                                  AuthToken.objects.get(user=user), time.time(), ""))
    tokens.logout(None, AuthToken.objects.get(user=user))  # with the cache off: still drops kept hits
    assert not tokens.is_live(login_token, use_cache=True)
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)


def test_a_revocation_that_read_the_window_before_it_was_raised_still_holds(
        transactional_db, user, login_token, settings, monkeypatch, now):
    """This process keeps hits for 1 s and finds the window key gone (a Redis flush); a process with
    no window of its own revokes between this process's read and its publish of the window."""
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 1.0}
    tokens.authenticate_token(login_token, use_cache=True)
    token_cache._cache().delete(token_cache.WINDOW)
    token_cache.forget_recent_hits()
    monkeypatch.setattr(token_cache.time, "sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    real_read = token_cache._read_many
    revoked = []

    def read_then_revoke(cache, keys):
        found = real_read(cache, keys)
        if not revoked:
            revoked.append(True)
            with monkeypatch.context() as other_process:
                other_process.setattr(token_cache, "local_timeout", lambda: 0.0)
                tokens.logout(None, AuthToken.objects.get(user=user))
        return found

    monkeypatch.setattr(token_cache, "_read_many", read_then_revoke)
    tokens.authenticate_token(login_token, use_cache=True)  # the request that straddled the logout
    monkeypatch.setattr(token_cache, "_read_many", real_read)
    now[0] += 0.2
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)


def test_a_revocation_under_manual_transaction_management_says_what_to_do(transactional_db, user, login_token,
                                                                         caplog):
    """Django runs no commit hooks there (its on_commit refuses that mode): the marks are written at
    once, and a warning names the remedy (invalidate_user_tokens after commit)."""
    row = AuthToken.objects.get(user=user)
    transaction.set_autocommit(False)
    try:
        tokens.logout(None, row)
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert "invalidate_user_tokens" in caplog.text
    token_cache.invalidate_user_tokens(user)
    with pytest.raises(tokens.InvalidToken):
        tokens.authenticate_token(login_token, use_cache=True)
