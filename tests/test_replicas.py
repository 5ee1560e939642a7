"""Many hosts: replicas never serve a revoked token, and a Redis outage is ridden out (issue 15).

The Redis tests start their own ``redis-server`` processes on free ports (a
primary, a replica of it), so they depend on nothing the machine runs. Without
the ``redis-server`` binary they are skipped, except in CI (``CI=true``), where
that is a failure.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import signal
import subprocess
import time

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client as DjangoClient

from gql_authtoken import cache, cache_access, crypto, tokens
from gql_authtoken.cache import token_mark

from .conftest import PASSWORD, free_port, run_suite_in_subprocess, wait_until_listening

REDIS_SERVER = shutil.which("redis-server")
BACKENDS = {
    "django": "django.core.cache.backends.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
}


def test_a_read_replica_router_never_decides_whether_a_token_lives():
    """A router sending every read to a database holding none of the tokens (its own process)."""
    run_suite_in_subprocess("tests.read_replica.settings", "tests/read_replica/check_read_replica.py")


@pytest.fixture
def redis_server_binary():
    if REDIS_SERVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs redis-server (apt-get install redis-server)")
        pytest.skip("redis-server is not installed: the replica and outage tests need it")
    return REDIS_SERVER


@pytest.fixture(autouse=True)
def no_outage_left_behind():
    cache_access.reset()
    yield
    cache_access.reset()


@contextlib.contextmanager
def redis_server(binary, directory, *args, port=None):
    """A ``redis-server`` of the test's own on ``port`` (a free one by default), its files in ``directory``;
    yields the process."""
    port = port or free_port()
    directory.mkdir(exist_ok=True)
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", "",
               "--appendonly", "no", *args]
    process = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process.port = port
    try:
        wait_until_listening(port, process=process)
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)  # in case a test left it frozen
            process.terminate()
        process.wait(timeout=10)


def wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def token_cache(settings, backend, *ports, **options):
    """Make CACHES['tokens'] (these servers, the first the primary) the token cache."""
    settings.CACHES = {**settings.CACHES, "tokens": {
        "BACKEND": BACKENDS[backend],
        "LOCATION": [f"redis://127.0.0.1:{port}/0" for port in ports],
        "KEY_PREFIX": "issue15",
        "OPTIONS": options,
    }}
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_ALIAS": "tokens"}


def accepted(token):
    """Whether the cached REST view and GraphQL both accept the token (they must agree); never a 5xx."""
    status = DjangoClient().get("/cached/", headers={"Authorization": f"Token {token}"}).status_code
    response = DjangoClient().post("/graphql/sync/", '{"query": "{ me { username } }"}',
                                   content_type="application/json", headers={"Authorization": f"Token {token}"})
    assert status in (200, 401) and response.status_code == 200, (status, response.content)
    me = response.json()["data"]["me"]
    assert (status == 200) == (me is not None), (status, me)
    return status == 200


def logout(token):
    assert DjangoClient().post("/auth/logout/", headers={"Authorization": f"Token {token}"}).status_code == 204


def keys(client, part):
    return [key for key in client.keys("*") if part in key]


def entries(client):
    """The keys of cached token lookups (memoised under a hash: neither a mark, a throttle counter
    nor the local-hit window)."""
    return [key for key in client.keys("*")
            if b":mark:" not in key and b":throttle:" not in key and not key.endswith(b"gql_authtoken:window")]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_lagging_redis_replica_never_serves_a_revoked_token(backend, transactional_db, settings,
                                                              redis_server_binary, tmp_path):
    with redis_server(redis_server_binary, tmp_path / "primary") as primary_process, \
            redis_server(redis_server_binary, tmp_path / "replica", "--replicaof", "127.0.0.1",
                         str(primary_process.port)) as replica_process:
        primary, replica = redis.Redis(port=primary_process.port), redis.Redis(port=replica_process.port)
        wait_for(lambda: replica.info("replication")["master_link_status"] == "up", "the replica to connect")
        token_cache(settings, backend, primary_process.port, replica_process.port)
        user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
        token, other = tokens.issue_token(user).token, tokens.issue_token(user).token
        for _ in range(2):  # the second time from the cache
            assert accepted(token) and accepted(other)
        wait_for(lambda: sorted(replica.keys("*")) == sorted(primary.keys("*")), "the replica to catch up")
        assert len(entries(replica)) == 2  # both entries are on the replica

        replica.replicaof("NO", "ONE")  # replication stops: the replica keeps what it had, and lags from now on
        logout(token)
        mark = token_mark(crypto.hash_token(token))
        assert keys(primary, mark.encode()) and not keys(replica, mark.encode())
        # The backend's own reads go to the replica, which has no mark:
        assert caches["tokens"].get_many([mark]) == {}

        assert not accepted(token)
        assert accepted(other)


def stop(process, outage, directory):
    if outage == "frozen":
        os.kill(process.pid, signal.SIGSTOP)  # connections hang: the client's socket timeout ends them
    else:
        redis.Redis(port=process.port).shutdown(save=True)  # its data goes to disk, to come back with it
        process.wait(timeout=10)


def resume(process, outage, stack, binary, directory):
    if outage == "frozen":
        os.kill(process.pid, signal.SIGCONT)
        return process
    return stack.enter_context(redis_server(binary, directory, port=process.port))


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("outage", ["stopped-and-restarted-from-its-dump", "frozen"])
def test_tokens_are_checked_in_the_database_while_redis_is_down(outage, backend, transactional_db, settings,
                                                                redis_server_binary, tmp_path, monkeypatch,
                                                                caplog, django_assert_num_queries):
    monkeypatch.setattr(cache_access, "RETRY_INTERVAL", 0.3)
    with contextlib.ExitStack() as stack:
        process = stack.enter_context(redis_server(redis_server_binary, tmp_path))
        token_cache(settings, backend, process.port, socket_timeout=0.5, socket_connect_timeout=0.5)
        user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
        kept, revoked = tokens.issue_token(user).token, tokens.issue_token(user).token
        for _ in range(2):
            assert accepted(kept) and accepted(revoked)

        stop(process, outage, tmp_path)
        with caplog.at_level("WARNING", logger="gql_authtoken"):
            for _ in range(3):
                assert accepted(kept) and accepted(revoked)  # from the database, no 5xx
            logout(revoked)  # its revocation mark cannot be written
            assert not accepted(revoked)
            assert accepted(kept)
            login = {"username": "alice", "password": PASSWORD}
            assert DjangoClient().post("/auth/login/", login).status_code == 429  # throttling fails closed
            settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "THROTTLE_ON_CACHE_FAILURE": "open"}
            assert DjangoClient().post("/auth/login/", login).status_code == 200
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert len(failures) == 1, "the outage is logged once, not per request"
        assert "checked in the database" in failures[0].getMessage()
        assert cache_access.is_down()

        process = resume(process, outage, stack, redis_server_binary, tmp_path)
        # The entry of the revoked token came back with Redis, and no mark says it was revoked.
        assert len(entries(redis.Redis(port=process.port))) == 2
        with caplog.at_level("WARNING", logger="gql_authtoken"):
            # No request needed: the process's retry thread writes the kept mark and starts a new epoch.
            wait_for(lambda: not cache_access.is_down(), "the cache to be used again", timeout=10)
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert cache_access.pending() == {}
        assert not accepted(revoked)
        assert accepted(kept)  # loaded again in the new epoch, and from then on served from the cache:
        with django_assert_num_queries(0):
            assert DjangoClient().get("/cached/", headers={"Authorization": f"Token {kept}"}).status_code == 200


@pytest.mark.parametrize("value", ["closed", "open"])
def test_throttle_on_cache_failure_takes_closed_or_open(settings, value):
    from django.core.checks import run_checks

    settings.GQL_AUTHTOKEN = {"THROTTLE_ON_CACHE_FAILURE": value}
    assert "gql_authtoken.E021" not in {message.id for message in run_checks()}
    settings.GQL_AUTHTOKEN = {"THROTTLE_ON_CACHE_FAILURE": value.upper()}
    assert "gql_authtoken.E021" in {message.id for message in run_checks()}


@pytest.mark.parametrize("ignore", [True, False])
def test_a_token_cache_that_ignores_redis_errors_is_a_check_error(settings, ignore):
    """django-redis's IGNORE_EXCEPTIONS turns a lost revocation mark into a silent success."""
    from django.core.checks import run_checks

    settings.CACHES = {**settings.CACHES, "tokens": {
        "BACKEND": BACKENDS["django-redis"], "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"IGNORE_EXCEPTIONS": ignore}}}
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_ALIAS": "tokens"}
    assert ("gql_authtoken.E022" in {message.id for message in run_checks()}) is ignore
    # A server started without the checks (gunicorn, uvicorn) never trusts such a cache with tokens.
    assert cache.enabled() is not ignore


# --- marks Redis loses without any process seeing an error (the epoch), and marks kept until written ---


@pytest.fixture
def short_epoch(monkeypatch):
    """An epoch of one second, renewed every 0.2 s (instead of 3 and 1), so tests wait less."""
    monkeypatch.setattr(cache_access, "EPOCH_TTL", 1)
    monkeypatch.setattr(cache_access, "RENEW_INTERVAL", 0.2)
    monkeypatch.setattr(cache_access, "RETRY_INTERVAL", 0.3)


def cached_pair(settings, backend, port, **options):
    """A kept and a revoked-to-be token of alice, both cached; the token cache on ``port``."""
    token_cache(settings, backend, port, **options)
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    kept, revoked = tokens.issue_token(user).token, tokens.issue_token(user).token
    for _ in range(2):
        assert accepted(kept) and accepted(revoked)
    return kept, revoked


def another_process():
    """From here on the test is a process that never saw the cache fail and keeps no mark of another."""
    cache_access.reset()


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_redis_restarted_from_an_older_dump_brings_back_no_entry_that_is_served(
        backend, transactional_db, settings, redis_server_binary, tmp_path, short_epoch):
    with contextlib.ExitStack() as stack:
        process = stack.enter_context(redis_server(redis_server_binary, tmp_path))
        kept, revoked = cached_pair(settings, backend, process.port, socket_timeout=0.5)
        server = redis.Redis(port=process.port)
        server.save()  # a periodic snapshot, taken before the logout
        logout(revoked)  # its mark is written, after the snapshot
        server.shutdown(nosave=True)  # a crash: the mark is lost
        process.wait(timeout=10)
        time.sleep(cache_access.EPOCH_TTL + 0.2)  # Redis is back later than the epoch lives
        process = stack.enter_context(redis_server(redis_server_binary, tmp_path, port=process.port))
        server = redis.Redis(port=process.port)
        assert len(entries(server)) == 2 and not keys(server, b":mark:t:")  # the entries came back, the mark did not

        assert not accepted(revoked)
        assert not cache_access.is_down()  # no request failed: the epoch alone refused the entry
        assert accepted(kept)


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("refusal", ["out-of-memory", "no-replicas"])
def test_a_mark_redis_refuses_ends_the_epoch_for_every_process(
        refusal, backend, transactional_db, settings, redis_server_binary, tmp_path, short_epoch):
    """Redis answers reads but refuses writes: out of memory (``noeviction``; deletes and ``EXPIRE`` still
    allowed), or every write refused (``min-replicas-to-write`` without replicas, like a read-only replica)."""
    with redis_server(redis_server_binary, tmp_path) as process:
        kept, revoked = cached_pair(settings, backend, process.port, socket_timeout=0.5)
        server = redis.Redis(port=process.port)
        if refusal == "out-of-memory":
            server.config_set("maxmemory-policy", "noeviction")
            server.config_set("maxmemory", 1)
        else:
            server.config_set("min-replicas-to-write", 1)
        logout(revoked)  # its mark is refused
        assert cache_access.pending()
        if refusal == "out-of-memory":  # the process that could not write ends the epoch at once
            wait_for(lambda: not keys(server, b"mark:epoch"), "the epoch to be ended")
        another_process()
        started = time.monotonic()
        wait_for(lambda: not accepted(revoked), "the revoked token to be refused", timeout=10)
        assert time.monotonic() - started <= cache_access.EPOCH_TTL + 0.5
        for _ in range(3):
            assert not accepted(revoked)
            assert accepted(kept)  # from the database


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_entries_from_before_redis_froze_for_longer_than_the_epoch_are_refused(
        backend, transactional_db, settings, redis_server_binary, tmp_path, short_epoch):
    with redis_server(redis_server_binary, tmp_path) as process:
        kept, revoked = cached_pair(settings, backend, process.port, socket_timeout=0.5,
                                    socket_connect_timeout=0.5)
        os.kill(process.pid, signal.SIGSTOP)
        logout(revoked)  # in a process that then dies or keeps its mark (it times out)
        another_process()
        time.sleep(cache_access.EPOCH_TTL + 0.2)
        os.kill(process.pid, signal.SIGCONT)
        assert not accepted(revoked)
        assert not cache_access.is_down()
        assert accepted(kept)


def test_revoke_all_tokens_fails_while_its_marks_are_unwritten(transactional_db, settings, redis_server_binary,
                                                               tmp_path, short_epoch, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setattr(cache_access, "EXIT_FLUSH_TIMEOUT", 0.7)
    with redis_server(redis_server_binary, tmp_path) as process:
        kept, revoked = cached_pair(settings, "django", process.port, socket_timeout=0.5)
        server = redis.Redis(port=process.port)
        server.config_set("min-replicas-to-write", 1)  # every write refused
        with pytest.raises(CommandError, match="could not be written"):
            call_command("revoke_all_tokens", "--force")
        assert cache_access.pending()
        server.config_set("min-replicas-to-write", 0)
        assert cache_access.flush_pending(2)  # what the command (or the exiting process) then writes
        assert len(keys(server, b":mark:t:")) == 2
        assert not accepted(kept) and not accepted(revoked)


def test_one_redis_connection_pool_per_process_under_asgi(transactional_db, settings, redis_server_binary,
                                                           tmp_path):
    """Django builds a cache object per request under ASGI; the token cache keeps one client."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    with redis_server(redis_server_binary, tmp_path) as process:
        kept, _ = cached_pair(settings, "django", process.port)
        server = redis.Redis(port=process.port)
        before = server.info("stats")["total_connections_received"]
        for _ in range(20):  # each from an empty context, as an ASGI server starts a request
            get = async_to_sync(AsyncClient().get)
            response = contextvars.Context().run(get, "/cached/", headers={"Authorization": f"Token {kept}"})
            assert response.status_code == 200
        assert server.info("stats")["total_connections_received"] - before <= 2


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_throttling_on_a_cache_that_ignores_its_errors_follows_throttle_on_cache_failure(
        mode, transactional_db, settings):
    """django-redis with IGNORE_EXCEPTIONS answers None to ``incr`` when Redis is down: a failure, not a 500."""
    token_cache(settings, "django-redis", free_port(), IGNORE_EXCEPTIONS=True, SOCKET_CONNECT_TIMEOUT=0.2)
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "THROTTLE_ON_CACHE_FAILURE": mode}
    get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == (429 if mode == "closed" else 200)


# --- configuration a replicated set-up needs: the checks that catch what is missing ---


class ReadsFromAReplica:
    """A read-scaling router (the check only asks it; no query goes to ``replica``)."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"


@pytest.mark.parametrize("routers, warned", [
    ([], False),  # reads and writes in one database
    (["tests.test_replicas.ReadsFromAReplica"], True),
    (["gql_authtoken.primary.PrimaryForCredentialChecks", "tests.test_replicas.ReadsFromAReplica"], False),
    (["tests.test_replicas.ReadsFromAReplica", "gql_authtoken.primary.PrimaryForCredentialChecks"], True),
])
def test_a_router_reading_users_from_a_replica_without_the_credential_router_is_a_warning(
        settings, routers, warned):
    from django.core.checks import run_checks

    settings.DATABASE_ROUTERS = routers
    assert ("gql_authtoken.W010" in {message.id for message in run_checks()}) is warned


SENTINEL_FACTORY = "django_redis.pool.SentinelConnectionFactory"


def sentinel_cache(settings, sentinel_port, service="mymaster", **options):
    """CACHES['tokens'] as docs/deployment.md sets up django-redis with Sentinel."""
    settings.CACHES = {**settings.CACHES, "tokens": {
        "BACKEND": BACKENDS["django-redis"],
        "LOCATION": f"redis://{service}/0",
        "KEY_PREFIX": "issue15",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
            "SENTINELS": [("127.0.0.1", sentinel_port)],
            "SOCKET_CONNECT_TIMEOUT": 1,
            "SOCKET_TIMEOUT": 1,
            **options,
        },
    }}
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_ALIAS": "tokens"}


@pytest.mark.parametrize("where, refused", [
    ("nowhere", True),
    ("options", False),
    ("setting", False),
])
def test_a_sentinel_client_without_the_sentinel_connection_factory_is_a_check_error(settings, where, refused):
    """django-redis's SentinelClient cannot connect through the default factory: the token cache would be
    down from the first request on, and every throttled call refused."""
    from django.core.checks import run_checks

    sentinel_cache(settings, free_port(), **({"CONNECTION_FACTORY": SENTINEL_FACTORY} if where == "options" else {}))
    if where == "setting":
        settings.DJANGO_REDIS_CONNECTION_FACTORY = SENTINEL_FACTORY
    errors = [message for message in run_checks() if message.id == "gql_authtoken.E029"]
    assert bool(errors) is refused
    if refused:
        assert SENTINEL_FACTORY in errors[0].hint


def test_a_plain_django_redis_client_needs_no_sentinel_factory(settings):
    from django.core.checks import run_checks

    settings.CACHES = {**settings.CACHES, "tokens": {"BACKEND": BACKENDS["django-redis"],
                                                     "LOCATION": "redis://127.0.0.1:1/0"}}
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_ALIAS": "tokens"}
    assert "gql_authtoken.E029" not in {message.id for message in run_checks()}


def test_the_documented_sentinel_set_up_serves_tokens_from_the_cache(
        transactional_db, settings, redis_server_binary, tmp_path, django_assert_num_queries):
    """docs/deployment.md's example, against a real Sentinel watching a real primary."""
    with redis_server(redis_server_binary, tmp_path / "primary") as primary_process:
        sentinel_port = free_port()
        (tmp_path / "sentinel").mkdir()
        config = tmp_path / "sentinel" / "sentinel.conf"  # Sentinel rewrites its own file
        config.write_text(f"port {sentinel_port}\nbind 127.0.0.1\n"
                          f"sentinel monitor mymaster 127.0.0.1 {primary_process.port} 1\n")
        sentinel = subprocess.Popen([redis_server_binary, str(config), "--sentinel"], cwd=tmp_path / "sentinel",
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_listening(sentinel_port, process=sentinel)
            sentinel_cache(settings, sentinel_port, CONNECTION_FACTORY=SENTINEL_FACTORY)
            from django.core.checks import run_checks

            assert "gql_authtoken.E029" not in {message.id for message in run_checks()}
            user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
            token = tokens.issue_token(user).token
            assert accepted(token)
            with django_assert_num_queries(0):  # from the cache behind Sentinel
                assert DjangoClient().get("/cached/", headers={"Authorization": f"Token {token}"}).status_code == 200
            assert not cache_access.is_down()
            assert entries(redis.Redis(port=primary_process.port))
            logout(token)
            assert not accepted(token)
            login = {"username": "alice", "password": PASSWORD}
            assert DjangoClient().post("/auth/login/", login).status_code == 200  # throttle counters work
        finally:
            sentinel.terminate()
            sentinel.wait(timeout=10)
