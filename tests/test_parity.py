"""Parity: every scenario through GraphQL (sync and async views) and REST, same outcome.

Each adapter below turns a response into ``"ok"`` or the error code a client
would read from it (GraphQL: the ``OperationInfo`` / ``extensions`` code; REST:
the status and DRF message), so one expected outcome serves all three.
"""

from __future__ import annotations

from datetime import timedelta

from gql_authtoken import clock, tokens

from .conftest import PASSWORD


def test_login_ok(adapter, user):
    code, token = adapter.login("alice", PASSWORD)
    assert code == "ok" and adapter.check(token) == "ok"


def test_login_bad_password(adapter, user):
    assert adapter.login("alice", "wrong") == ("invalid_credentials", None)


def test_login_unknown_user(adapter, user):
    assert adapter.login("mallory", PASSWORD) == ("invalid_credentials", None)


def test_login_inactive_user(adapter, user):
    user.is_active = False
    user.save()
    assert adapter.login("alice", PASSWORD) == ("inactive_user", None)


def test_login_unknown_client(adapter, user, clients):
    assert adapter.login("alice", PASSWORD, client="nope") == ("unknown_client", None)
    assert adapter.login("alice", PASSWORD, client="web")[0] == "ok"


def test_logout(adapter, user, login_token):
    other = tokens.issue_token(user).token
    assert adapter.logout(login_token) == "ok"
    assert adapter.check(login_token) == "invalid_token"
    assert adapter.check(other) == "ok"


def test_logout_all(adapter, user, other_user, login_token):
    other = tokens.issue_token(user).token
    bob = tokens.issue_token(other_user).token
    assert adapter.logout_all(login_token) == "ok"
    assert [adapter.check(t) for t in (login_token, other, bob)] == ["invalid_token", "invalid_token", "ok"]


def test_refresh(adapter, user, clients, monkeypatch):
    issued = tokens.issue_token(user, client=clients["web"])
    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert adapter.refresh(issued.token) == "ok"
    issued.instance.refresh_from_db()
    assert issued.instance.expiry == later + timedelta(hours=2)


def test_rotate(adapter, user, login_token):
    code, new = adapter.rotate(login_token)
    assert code == "ok" and new != login_token
    assert adapter.check(login_token) == "invalid_token"
    assert adapter.check(new) == "ok"


def test_expired_token(transactional_db, adapter, user, login_token, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert adapter.refresh(login_token) == "token_expired"
    assert adapter.refresh(login_token) == "invalid_token"


def test_revoked_token(adapter, user, login_token):
    tokens.revoke_all_tokens(user)
    for action in (adapter.check, adapter.logout, adapter.logout_all, adapter.refresh):
        assert action(login_token) == "invalid_token"


def test_no_token(adapter, user):
    assert adapter.logout(None) == "not_authenticated"
    assert adapter.check(None) == "not_authenticated"


def test_revoke_other_session(adapter, user, login_token):
    other = tokens.issue_token(user)
    assert adapter.revoke_session(login_token, other.instance.pk) == "ok"
    assert adapter.check(other.token) == "invalid_token"
    assert adapter.check(login_token) == "ok"


def test_revoke_someone_elses_session(adapter, user, other_user, login_token):
    theirs = tokens.issue_token(other_user)
    assert adapter.revoke_session(login_token, theirs.instance.pk) == "session_not_found"
    assert adapter.check(theirs.token) == "ok"
