"""Cached authentication: zero queries on a hit, and never stale."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from gql_authtoken import cache as token_cache
from gql_authtoken import cache_access, clock, login, tokens
from gql_authtoken.cache import invalidate_user_tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken

from .conftest import PASSWORD, cache_contents

ME = "{ me { username } }"


@pytest.fixture
def rest():
    def get(path, token):
        return APIClient().get(path, HTTP_AUTHORIZATION=f"Token {token}")

    return get


def me(gql, token):
    return gql(ME, token=token)["data"]["me"]


def test_graphql_miss_is_one_query_and_hit_is_zero(gql, user, login_token, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert me(gql, login_token) == {"username": "alice"}
    with django_assert_num_queries(0):
        assert me(gql, login_token) == {"username": "alice"}


@pytest.mark.parametrize("path", ["/cached/", "/auth/sessions/"])
def test_rest_miss_is_one_query_and_hit_is_zero(rest, user, login_token, path, django_assert_num_queries):
    # /cached/ uses CachedTokenAuthentication; the endpoints reuse the middleware's cached lookup.
    with django_assert_num_queries(1 if path == "/cached/" else 2):  # sessions/ lists them: +1
        assert rest(path, login_token).status_code == 200
    with django_assert_num_queries(0 if path == "/cached/" else 1):
        assert rest(path, login_token).status_code == 200


def test_plain_token_authentication_without_middleware_result_queries_each_time(
    rest, user, login_token, django_assert_num_queries
):
    for _ in range(2):
        with django_assert_num_queries(1):
            assert rest("/web-only/", login_token).status_code == 403  # no client: refused, but authenticated


@override_settings(GQL_AUTHTOKEN={"TOKEN_CACHE_TIMEOUT": 0})
def test_timeout_zero_bypasses_the_cache_entirely(gql, user, login_token, django_assert_num_queries, monkeypatch):
    def no_cache(*args, **kwargs):
        raise AssertionError("the cache must not be used")

    monkeypatch.setattr(token_cache, "_cache", no_cache)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert me(gql, login_token) == {"username": "alice"}
    assert tokens.logout(None, tokens.authenticate_token(login_token)) == 1


def test_cache_holds_no_plaintext_token_and_no_password_hash(gql, user, login_token):
    me(gql, login_token)
    contents = cache_contents()
    stored = pickle.dumps(contents)
    assert login_token.encode() not in stored
    assert user.password.split("$")[-1].encode() not in stored
    assert AuthToken.objects.get().password_digest.encode() not in stored  # nor the token's digest of the hash
    assert len(contents) == 3  # the entry, the epoch (cache_access.EPOCH) and the local-hit window


def test_cached_user_is_a_working_user(user, login_token):
    instance = tokens.authenticate_token(login_token, use_cache=True)
    cached = tokens.authenticate_token(login_token, use_cache=True)
    assert cached.user == user and cached.user.get_username() == "alice"
    assert "password" not in cached.user.__dict__
    assert cached.user.check_password(PASSWORD)  # loaded from the database on demand
    assert instance.pk == cached.pk


def test_failed_lookups_are_not_stored(gql, user):
    for i in range(20):
        assert me(gql, f"made-up-{i}") is None
    cache_access.primary().delete(cache_access.EPOCH)  # the one key lookups store before they know the token
    assert cache_contents() == {}


def test_expiry_is_enforced_on_cache_hits(transactional_db, gql, user, login_token, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    me(gql, login_token)
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    result = gql("{ sessions { id } }", token=login_token)
    assert result["errors"][0]["extensions"]["code"] == "token_expired"
    assert gql("{ sessions { id } }", token=login_token)["errors"][0]["extensions"]["code"] == "invalid_token"


def test_last_used_write_on_a_hit_is_the_only_query(transactional_db, gql, user, login_token, monkeypatch,
                                                    django_assert_num_queries):
    # Outside a transaction, as a request runs (inside one the write waits for the commit: test_atomic_requests).
    me(gql, login_token)
    later = clock.now() + timedelta(minutes=5)
    monkeypatch.setattr(clock, "now", lambda: later)
    with django_assert_num_queries(1) as captured:
        me(gql, login_token)
    assert captured.captured_queries[0]["sql"].startswith("UPDATE")
    with django_assert_num_queries(0):
        me(gql, login_token)
    assert AuthToken.objects.get().last_used == later


# --- never stale: each revocation path, with a warm cache ------------------------


def warm(gql, token):
    assert me(gql, token) == {"username": "alice"}
    assert me(gql, token) == {"username": "alice"}  # served from the cache


def test_logout_through_graphql(gql, user, login_token):
    warm(gql, login_token)
    gql("mutation { logout { __typename } }", token=login_token)
    assert me(gql, login_token) is None


def test_logout_through_rest_refuses_graphql_and_cached_rest(gql, rest, user, login_token):
    warm(gql, login_token)
    assert rest("/cached/", login_token).status_code == 200
    assert APIClient().post("/auth/logout/", HTTP_AUTHORIZATION=f"Token {login_token}").status_code == 204
    assert me(gql, login_token) is None
    assert rest("/cached/", login_token).status_code == 401


def test_logout_all_and_revoke_session(gql, user, login_token):
    other = tokens.issue_token(user)
    warm(gql, login_token)
    warm(gql, other.token)
    gql('mutation { revokeSession(id: "%s") { __typename } }' % other.instance.pk, token=login_token)
    assert me(gql, other.token) is None
    assert me(gql, login_token) == {"username": "alice"}
    gql("mutation { logoutAll { __typename } }", token=login_token)
    assert me(gql, login_token) is None


def test_rotation_kills_the_cached_old_token(gql, user, login_token):
    warm(gql, login_token)
    new = gql("mutation { refresh(rotate: true) { ... on RefreshResult { token } } }", token=login_token)
    assert me(gql, login_token) is None
    assert me(gql, new["data"]["refresh"]["token"]) == {"username": "alice"}


def test_refresh_is_seen_at_once(gql, user, clients):
    issued = tokens.issue_token(user, client=clients["web"])
    warm(gql, issued.token)
    tokens.refresh_token(issued.instance)
    assert tokens.authenticate_token(issued.token, use_cache=True).expiry == issued.instance.expiry


def test_a_cached_copy_past_its_old_expiry_serves_the_refreshed_row(gql, user, clients, monkeypatch):
    """A copy cached before a refresh (whose mark has not reached this process yet: here the row
    is changed behind the cache's back) is past its old expiry: the token, still live in the
    database, is read again and served, and nothing is deleted."""
    issued = tokens.issue_token(user, client=clients["web"])
    warm(gql, issued.token)
    later = issued.instance.expiry + timedelta(hours=1)
    AuthToken.objects.filter(pk=issued.instance.pk).update(expiry=later)
    monkeypatch.setattr(clock, "now", lambda: issued.instance.expiry + timedelta(seconds=1))
    assert tokens.authenticate_token(issued.token, use_cache=True).expiry == later
    assert me(gql, issued.token) == {"username": "alice"}
    assert AuthToken.objects.filter(pk=issued.instance.pk).exists()


def test_admin_revoke_action(gql, user, login_token, admin_client):
    warm(gql, login_token)
    token = AuthToken.objects.get()
    admin_client.post("/admin/gql_authtoken/authtoken/", {"action": "revoke_selected", "_selected_action": [token.pk]})
    assert me(gql, login_token) is None




def test_deactivation(gql, user, login_token):
    warm(gql, login_token)
    user.is_active = False
    user.save()
    assert me(gql, login_token) is None


def test_password_change_revokes_all_tokens(gql, user, login_token):
    warm(gql, login_token)
    user.set_password("a brand new passphrase")
    user.save()
    assert me(gql, login_token) is None
    assert not AuthToken.objects.exists()


def test_password_hash_upgrade_on_login_revokes_nothing(user, login_token, settings):
    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher",
                                 "django.contrib.auth.hashers.MD5PasswordHasher"]
    login.login(None, username="alice", password=PASSWORD)  # rehashes and saves the password
    user.refresh_from_db()
    assert user.password.startswith("fast_sha256$")
    assert AuthToken.objects.count() == 2


def test_user_deletion(gql, user, login_token):
    warm(gql, login_token)
    user.delete()
    assert me(gql, login_token) is None


def test_login_does_not_drop_other_cached_sessions(gql, user, login_token, django_assert_num_queries):
    warm(gql, login_token)
    login.login(None, username="alice", password=PASSWORD)  # saves last_login only
    with django_assert_num_queries(0):
        assert me(gql, login_token) == {"username": "alice"}


def test_bulk_update_needs_the_public_invalidation(gql, user, login_token):
    warm(gql, login_token)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert me(gql, login_token) == {"username": "alice"}  # documented: stale until invalidated or expired
    invalidate_user_tokens(user)
    assert me(gql, login_token) is None


@pytest.mark.parametrize("spelling", [str, lambda pk: f"0{pk}", lambda pk: f" {pk} "])
def test_invalidate_user_tokens_reads_a_pk_as_the_user_model_does(gql, user, login_token, spelling):
    """A pk in another spelling (a UUID in capitals, an int with a leading zero) reaches the same mark."""
    warm(gql, login_token)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    invalidate_user_tokens(spelling(user.pk))
    assert me(gql, login_token) is None


def test_a_uuid_pk_in_any_spelling_is_one_mark(monkeypatch):
    import uuid

    from django.db import models

    pk = uuid.uuid4()
    written = []
    monkeypatch.setattr(get_user_model()._meta, "pk", models.UUIDField(primary_key=True))
    monkeypatch.setattr(token_cache, "_mark", written.extend)
    for spelling in (pk, str(pk), str(pk).upper(), pk.hex):
        invalidate_user_tokens(spelling)
    assert written == [token_cache.user_mark(pk)] * 4  # what a cached entry's user_id (a UUID) reads


def test_a_refill_racing_a_revocation_is_never_served(gql, user, login_token, monkeypatch, settings):
    """A request misses, reads the still-valid row, and the token is revoked before it
    writes the cache: its entry must never be served afterwards. (The test's transaction never
    commits, so the revocation never waits out the local window: that case, committed, is in
    tests/test_local_hits.py.)"""
    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0}
    real_load = tokens.load_token

    def load_then_revoke(digest, legacy_digest=None):
        instance = real_load(digest, legacy_digest)
        tokens.revoke_all_tokens(user)  # another process, between our read and our write
        return instance

    monkeypatch.setattr(tokens, "load_token", load_then_revoke)
    tokens.authenticate_token(login_token, use_cache=True)  # the racing request itself
    monkeypatch.undo()
    assert me(gql, login_token) is None


@pytest.mark.parametrize("client", [None, "web"])
def test_a_hit_is_one_cache_round_trip(user, clients, client, django_assert_num_queries, settings):
    """The entry and the marks of its token, user and client come in one get_many
    (with no hits from the process's own memory: tests/test_local_hits.py)."""
    from .benchmarks.harness import counting_cache_calls

    settings.GQL_AUTHTOKEN = {"TOKEN_LOCAL_CACHE_TIMEOUT": 0}
    token = tokens.issue_token(user, client=clients[client] if client else None).token
    tokens.authenticate_token(token, use_cache=True)  # miss: loaded and stored
    for _ in range(2):
        with django_assert_num_queries(0), counting_cache_calls() as calls:
            assert tokens.authenticate_token(token, use_cache=True).user == user
        assert calls == ["get_many"]


def test_a_hit_in_another_process_reads_the_real_marks_first(gql, user, other_user, login_token, monkeypatch):
    """What a process remembers about a token only saves a read: a process that has not
    seen the token, or remembers it wrong, still checks the marks of its real user."""
    users = get_user_model().objects.filter(pk=user.pk)
    for remembered in ("nothing", "another user"):
        warm(gql, login_token)
        if remembered == "nothing":
            monkeypatch.setattr(token_cache, "_hints", {})
        else:
            monkeypatch.setattr(token_cache, "_hints", {
                hint: (key, [token_cache.token_mark("x"), token_cache.user_mark(other_user.pk)], (other_user.pk, None))
                for hint, (key, _marks, _owner) in token_cache._hints.items()})
        users.update(is_active=False)  # no signal: the user's mark alone tells the cache
        invalidate_user_tokens(user)
        assert me(gql, login_token) is None
        users.update(is_active=True)
        invalidate_user_tokens(user)


@pytest.mark.parametrize("kind", ["graphql", "rest"])
def test_another_project_sharing_the_cache_never_serves_this_one_s_entries(
        gql, rest, user, login_token, settings, kind):
    """brk78: two projects on one Redis database with no KEY_PREFIX between them. A token that
    project A cached authenticated on project B, which has no such row, as B's user with A's
    user's primary key (B's superuser, say). Entries are now keyed by project (SECRET_KEY)."""
    from django.db import connection

    def answer(token):
        if kind == "graphql":
            return me(gql, token)
        response = rest("/cached/", token)
        return response.status_code

    assert answer(login_token) in ({"username": "alice"}, 200)  # A: loaded and cached
    # B: another SECRET_KEY, and no row for this token in its database (gone behind the ORM's back,
    # so no revocation mark was written either).
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(AuthToken._meta.db_table)}")
    project_a = settings.SECRET_KEY
    settings.SECRET_KEY = "another project's secret key, long enough to be one"
    assert answer(login_token) in (None, 401)
    # Without the project in the key, B would have been served A's entry, as A still is.
    settings.SECRET_KEY = project_a
    assert answer(login_token) in ({"username": "alice"}, 200)


def test_the_project_part_of_the_keys_tells_nothing_of_the_secret_key(settings):
    settings.SECRET_KEY = "a-secret-key-of-fifty-characters-or-so-0123456789"
    namespace = cache_access.project_namespace()
    assert len(namespace) == 16 and int(namespace, 16) >= 0 and namespace not in settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-key-of-fifty-characters-or-so-01234"
    assert cache_access.project_namespace() != namespace


def test_a_mark_written_by_a_process_with_a_shorter_timeout_outlives_every_allowed_entry(
        db, settings, monkeypatch):
    """brk79: marks lived the writer's TOKEN_CACHE_TIMEOUT + 305 s. A worker (or another project on
    the same cache) with TOKEN_CACHE_TIMEOUT 60 rewrote a user's mark with 365 s, and once it
    expired, a server with 3600 served its entry from before the change again."""
    written = []
    monkeypatch.setattr(cache_access, "write_marks", lambda marks, timeout: written.append(timeout))
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": 60}
    invalidate_user_tokens(get_user_model().objects.create_user("alice", "alice@example.com"))
    assert written and min(written) >= token_cache.MARK_MIN_TIMEOUT + token_cache.CLOCK_SKEW


@pytest.mark.parametrize(("timeout", "warned"), [(3600, False), (3601, True)])
def test_a_cache_timeout_above_what_marks_cover_is_a_check_warning(settings, timeout, warned):
    from django.core.checks import run_checks

    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": timeout}
    assert ("gql_authtoken.W013" in {message.id for message in run_checks()}) is warned


@pytest.mark.parametrize("revoke", ["logout all", "new password", "deactivated", "deleted"])
def test_a_revocation_by_a_process_without_the_token_cache_reaches_the_servers(db, settings, revoke):
    """brk80: a worker or command with TOKEN_CACHE_TIMEOUT 0, on the same shared cache, wrote no
    marks, and the servers kept serving their cached entries."""
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": 60}  # the server
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    for _ in range(2):
        tokens.authenticate_token(issued.token, use_cache=True)  # cached
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": 0}  # the worker
    stored = get_user_model().objects.get(pk=user.pk)
    if revoke == "logout all":
        tokens.revoke_all_tokens(stored)
    elif revoke == "new password":
        stored.set_password("a-Strong-new-passphrase-42")
        stored.save()
    elif revoke == "deactivated":
        stored.is_active = False
        stored.save()
    else:
        stored.delete()
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": 60}  # the server again
    token_cache.forget_recent_hits()  # another process: none of the worker's memory
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(issued.token, use_cache=True)
