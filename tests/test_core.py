"""The core on its own: hashing, expiry, signals, async forms, settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import override_settings

from gql_authtoken import clients, clock, crypto, login, sessions, signals, tokens
from gql_authtoken.exceptions import (
    InactiveUser,
    InvalidCredentials,
    InvalidToken,
    SessionNotFound,
    TokenExpired,
    UnknownClient,
)
from gql_authtoken.models import AuthToken

from .conftest import PASSWORD


def test_hash_is_sha512_hex():
    import hashlib

    assert crypto.hash_token("abc") == hashlib.sha512(b"abc").hexdigest()


def test_tokens_are_random_urlsafe_and_of_the_configured_length():
    tokens = {crypto.generate_token(length=64) for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 64 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


@override_settings(GQL_AUTHTOKEN={"TOKEN_PREFIX": "gqa_", "TOKEN_CHARACTER_LENGTH": 40})
def test_prefix_and_length_settings_apply_without_reload(user):
    issued = tokens.issue_token(user)
    assert issued.token.startswith("gqa_") and len(issued.token) == 44
    assert tokens.authenticate_token(issued.token) == issued.instance


def test_only_the_digest_is_stored(user):
    issued = tokens.issue_token(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM gql_authtoken_authtoken")
        rows = cursor.fetchall()
    assert issued.token not in repr(rows)
    assert crypto.hash_token(issued.token) in repr(rows)
    assert issued.token not in str(issued.instance) and issued.instance.digest not in str(issued.instance)


def test_default_ttl_client_ttl_and_never_expiring(user, clients):
    assert tokens.issue_token(user).instance.expiry - clock.now() < timedelta(days=1)
    assert tokens.issue_token(user).instance.expiry - clock.now() > timedelta(hours=23)
    assert tokens.issue_token(user, client=clients["cli"]).instance.expiry is None
    with override_settings(GQL_AUTHTOKEN={"DEFAULT_TOKEN_TTL": None}):
        assert tokens.issue_token(user).instance.expiry is None


@override_settings(GQL_AUTHTOKEN={"MAX_TOKEN_LIFETIME": timedelta(hours=1)})
def test_max_lifetime_caps_even_never_expiring_clients(user, clients):
    instance = tokens.issue_token(user, client=clients["cli"]).instance
    assert instance.expiry == instance.created + timedelta(hours=1)


def test_login_sends_djangos_signals(user, rf):
    from django.contrib.auth.signals import user_logged_in, user_login_failed

    seen = []
    user_logged_in.connect(lambda **kw: seen.append(("in", kw["user"])), weak=False, dispatch_uid="t-in")
    user_login_failed.connect(lambda **kw: seen.append(("failed", kw["credentials"]["username"])),
                              weak=False, dispatch_uid="t-failed")
    try:
        login.login(rf.post("/"), username="alice", password=PASSWORD)
        with pytest.raises(InvalidCredentials):
            login.login(rf.post("/"), username="alice", password="x")
    finally:
        user_logged_in.disconnect(dispatch_uid="t-in")
        user_login_failed.disconnect(dispatch_uid="t-failed")
    assert seen == [("in", user), ("failed", "alice")]
    user.refresh_from_db()
    assert user.last_login is not None


def test_inactive_user_login(user):
    user.is_active = False
    user.save()
    with pytest.raises(InactiveUser):
        login.login(None, username="alice", password=PASSWORD)
    with pytest.raises(InvalidCredentials):
        login.login(None, username="alice", password="wrong")


def test_unknown_client(db):
    with pytest.raises(UnknownClient):
        clients.get_client("nope")
    assert clients.get_client("") is None


def test_expired_token_is_deleted_and_signalled(transactional_db, user, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    issued = tokens.issue_token(user)
    received = []
    signals.token_expired.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-exp")
    monkeypatch.setattr(clock, "now", lambda: issued.instance.expiry)
    try:
        with pytest.raises(TokenExpired):
            tokens.authenticate_token(issued.token)
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-exp")
    assert not AuthToken.objects.exists()
    assert received[0]["user"] == user and received[0]["instance"].pk == issued.instance.pk
    with pytest.raises(InvalidToken) as excinfo:
        tokens.authenticate_token(issued.token)
    assert type(excinfo.value) is InvalidToken


@pytest.mark.parametrize("meanwhile", ["refreshed", "deleted"])
def test_a_token_read_expired_then_refreshed_meanwhile_is_served(transactional_db, user, monkeypatch, meanwhile):
    """A refresh that commits after this request read the row (or a cached copy with the old
    expiry): the deletion finds the token live, and the request is served, not told the live
    token is invalid (its client would log the user out). Deleted meanwhile: ``invalid_token``."""
    issued = tokens.issue_token(user)
    later = issued.instance.expiry + timedelta(hours=1)
    real_find = tokens._find

    def read_then_changed(*args, **kwargs):
        found = real_find(*args, **kwargs)
        rows = AuthToken.objects.filter(pk=issued.instance.pk)
        rows.update(expiry=later) if meanwhile == "refreshed" else rows.delete()
        return found

    received = []
    signals.token_expired.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-kept")
    monkeypatch.setattr(tokens, "_find", read_then_changed)
    monkeypatch.setattr(clock, "now", lambda: issued.instance.expiry)
    try:
        if meanwhile == "refreshed":
            served = tokens.authenticate_token(issued.token)
            assert served.pk == issued.instance.pk and served.expiry == later and served.user == user
        else:
            with pytest.raises(InvalidToken) as excinfo:
                tokens.authenticate_token(issued.token)
            assert type(excinfo.value) is InvalidToken
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-kept")
    assert not received  # not deleted by this request: no token_expired
    assert AuthToken.objects.filter(pk=issued.instance.pk).exists() is (meanwhile == "refreshed")


def test_last_used_written_at_most_once_per_interval(transactional_db, user, monkeypatch, django_assert_num_queries):
    # Outside a transaction, as a request runs (inside one the write waits for the commit: test_atomic_requests).
    issued = tokens.issue_token(user)
    start = issued.instance.last_used
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=30))
    with django_assert_num_queries(1):
        tokens.authenticate_token(issued.token)
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=2))
    with django_assert_num_queries(2):
        assert tokens.authenticate_token(issued.token).last_used == start + timedelta(minutes=2)
    issued.instance.refresh_from_db()
    assert issued.instance.last_used == start + timedelta(minutes=2)


def test_refresh_sends_token_renewed_and_never_shortens(user, clients):
    issued = tokens.issue_token(user, client=clients["web"])
    received = []
    signals.token_renewed.connect(lambda **kw: received.append(kw["expiry"]), weak=False, dispatch_uid="t-ren")
    try:
        expiry = tokens.refresh_token(issued.instance)
    finally:
        signals.token_renewed.disconnect(dispatch_uid="t-ren")
    assert received == [expiry] and expiry >= issued.instance.created + timedelta(hours=2)


def test_refresh_or_rotate_of_a_revoked_token_fails(user):
    issued = tokens.issue_token(user)
    AuthToken.objects.all().delete()
    with pytest.raises(InvalidToken):
        tokens.refresh_token(issued.instance)
    with pytest.raises(InvalidToken):
        tokens.rotate_token(issued.instance)


def test_concurrent_rotation_has_one_winner(user):
    issued = tokens.issue_token(user)
    stale_copy = AuthToken.objects.get(pk=issued.instance.pk)
    winner = tokens.rotate_token(issued.instance)
    with pytest.raises(InvalidToken):
        tokens.rotate_token(stale_copy)
    assert tokens.authenticate_token(winner.token).pk == issued.instance.pk


def test_revocation_signals_name_sessions_not_tokens(user):
    first, second = tokens.issue_token(user), tokens.issue_token(user)
    received = []
    signals.token_revoked.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="t-rev")
    try:
        sessions.revoke_session(user, str(first.instance.pk))
        tokens.logout_all(None, user)
    finally:
        signals.token_revoked.disconnect(dispatch_uid="t-rev")
    assert [r["session_ids"] for r in received] == [[str(first.instance.pk)], [str(second.instance.pk)]]
    assert first.token not in repr(received) and second.token not in repr(received)


def test_revoke_session_of_another_user_is_not_found(user, other_user):
    theirs = tokens.issue_token(other_user)
    with pytest.raises(SessionNotFound):
        sessions.revoke_session(user, str(theirs.instance.pk))
    assert AuthToken.objects.filter(pk=theirs.instance.pk).exists()


@override_settings(GQL_AUTHTOKEN={"API_ACCESS_CLIENT_NAME": "api", "API_ACCESS_EXCLUDE_FROM_SESSIONS": True})
def test_api_access_client_can_be_left_out_of_sessions(user):
    from gql_authtoken.models import Client

    tokens.issue_token(user, client=Client.objects.create(name="api"))
    current = tokens.issue_token(user).instance
    assert [s.id for s in sessions.list_sessions(user, current=current)] == [str(current.pk)]


def test_async_forms(user):
    issued = async_to_sync(login.alogin)(None, username="alice", password=PASSWORD)
    token = async_to_sync(tokens.aauthenticate_token)(issued.token)
    assert async_to_sync(tokens.arefresh_token)(token) == token.expiry
    [session] = async_to_sync(sessions.alist_sessions)(user, current=token)
    assert session.is_current
    rotated = async_to_sync(tokens.arotate_token)(token)
    assert async_to_sync(tokens.alogout)(None, token) == 1
    with pytest.raises(InvalidToken):
        async_to_sync(tokens.aauthenticate_token)(rotated.token)
    other = tokens.issue_token(user)
    with pytest.raises(SessionNotFound):
        async_to_sync(sessions.arevoke_session)(user, "0")
    assert async_to_sync(tokens.alogout_all)(None, user) == 1
    assert not AuthToken.objects.filter(pk=other.instance.pk).exists()


def test_logout_and_logout_all_send_djangos_user_logged_out(user, rf):
    from django.contrib.auth.signals import user_logged_out

    seen = []
    user_logged_out.connect(lambda **kw: seen.append((kw["user"], kw["request"].path)), weak=False,
                            dispatch_uid="t-out")
    try:
        tokens.logout(rf.post("/one/"), tokens.issue_token(user).instance)
        tokens.issue_token(user)
        tokens.logout_all(rf.post("/all/"), user)
    finally:
        user_logged_out.disconnect(dispatch_uid="t-out")
    assert seen == [(user, "/one/"), (user, "/all/")]
