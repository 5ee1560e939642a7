"""A request that revokes its own token: what comes later in it finds the token revoked.

A GraphQL document runs its mutations one after another and a batch runs its
operations in turn, all in one HTTP request (or one WebSocket operation). Once
``logout``, ``logoutAll`` or ``revokeSession`` of the request's own session has
run, the next fields answer as the next request with that token would
(``invalid_token``, ``me`` null), and nothing may rest on the token: not a new
address, not a new password. The same holds when another request revokes it
while a change is under way (API.md §8: revocation takes effect at once).
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.db import connection, connections
from django.test import AsyncClient
from django.test import Client as DjangoClient

from gql_authtoken import clock, email_confirmation, sessions, tokens
from gql_authtoken.accounts import email_change
from gql_authtoken.cache import invalidate_user_tokens
from gql_authtoken.exceptions import InvalidCredentials, InvalidToken
from gql_authtoken.models import AuthToken, Client, EmailConfirmationToken

from .conftest import PASSWORD, auth_header
from .test_email_change import CONFIRM, NEW, address_of
from .test_subscriptions import connected, execute, server  # noqa: F401  (server: the fixture)

User = get_user_model()

# Each revokes the request's own token; OWN stands for its session id.
REVOKING = {
    "logout": "logout { __typename }",
    "logoutAll": "logoutAll { __typename }",
    "revokeSession": 'revokeSession(id: "OWN") { __typename }',
}
AFTER = """
  mail: changeEmail(password: "%s", newEmail: "%s") { __typename ... on OperationInfo { messages { code } } }
  password: changePassword(oldPassword: "%s", newPassword: "an0ther-Passw0rd") {
    __typename ... on OperationInfo { messages { code } } }
  touched: touchSecret { __typename ... on OperationInfo { messages { code } } }
  refreshed: refresh { __typename ... on OperationInfo { messages { code } } }
""" % (PASSWORD, NEW, PASSWORD)


def codes(result: dict) -> dict:
    """Each field's ``__typename``, or its first code when it is an ``OperationInfo``."""
    return {name: value["messages"][0]["code"] if value["__typename"] == "OperationInfo" else value["__typename"]
            for name, value in result.items()}


def own_session(token: str) -> str:
    return str(tokens.authenticate_token(token).pk)


def post(path: str, body, token: str):
    """``body`` as JSON to ``path`` with the token header; the decoded answer (200 expected)."""
    kwargs = {"content_type": "application/json", "headers": auth_header(token)}
    if "async" in path:
        response = async_to_sync(AsyncClient().post)(path, json.dumps(body), **kwargs)
    else:
        response = DjangoClient().post(path, json.dumps(body), **kwargs)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("revoking", REVOKING)
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/"])
def test_after_revoking_its_own_token_a_document_changes_nothing_on_it(path, revoking, user, login_token):
    mutation = "mutation { out: %s %s }" % (REVOKING[revoking].replace("OWN", own_session(login_token)), AFTER)
    result = post(path, {"query": mutation}, login_token)
    assert "errors" not in result, result
    assert codes(result["data"]) == {
        "out": "LogoutResult", "mail": "invalid_token", "password": "invalid_token", "touched": "invalid_token",
        "refreshed": "invalid_token"}
    assert address_of(user) == "alice@example.com"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuthToken.objects.filter(user=user).exists()
    assert not mail.outbox


@pytest.mark.parametrize("path", ["/graphql/batch/"])  # the async view runs a batch's operations at once
def test_a_batch_sees_its_own_logout_in_its_later_operations(path, user, login_token):
    results = post(path, [
        {"query": "{ me { username } }"},
        {"query": "mutation { logout { __typename } }"},
        {"query": "{ me { username } currentSession { id } }"},
        {"query": "mutation { touchSecret { __typename ... on OperationInfo { messages { code } } } }"},
    ], login_token)
    assert [r.get("data") for r in results] == [
        {"me": {"username": "alice"}},
        {"logout": {"__typename": "LogoutResult"}},
        {"me": None, "currentSession": None},
        {"touchSecret": {"__typename": "OperationInfo", "messages": [{"code": "invalid_token"}]}},
    ]


def test_revoking_another_session_leaves_the_request_its_own(user, login_token):
    other = tokens.issue_token(user).token
    mutation = "mutation { out: %s %s }" % (REVOKING["revokeSession"].replace("OWN", own_session(other)),
                                            'touched: touchSecret { __typename }')
    result = post("/graphql/sync/", {"query": mutation}, login_token)
    assert result["data"] == {"out": {"__typename": "LogoutResult"}, "touched": {"__typename": "Secret"}}
    assert tokens.authenticate_token(login_token).user == user


def test_request_user_and_auth_are_anonymous_after_the_requests_own_logout(rf, user, login_token):
    from gql_authtoken.middleware import TokenAuthenticationMiddleware, own_token_revoked

    request = rf.get("/graphql/sync/", headers=auth_header(login_token))
    TokenAuthenticationMiddleware(lambda r: None).process_request(request)
    assert request.user == user and request.auth is not None
    tokens.logout(request, request.auth)
    own_token_revoked(request)
    assert not request.user.is_authenticated
    assert request.auth is None


def test_over_a_socket_the_connections_user_is_anonymous_after_its_own_logout(user, login_token):
    from types import SimpleNamespace

    from gql_authtoken.middleware import CONNECTION_SCOPE_KEY, TokenAuthResult, own_token_revoked

    scope = {"type": "websocket", CONNECTION_SCOPE_KEY: TokenAuthResult(token=tokens.authenticate_token(login_token)),
             "user": user}
    own_token_revoked(SimpleNamespace(scope=scope))
    assert not scope["user"].is_authenticated
    assert isinstance(scope[CONNECTION_SCOPE_KEY].error, InvalidToken)


def test_over_a_socket_an_operation_sees_its_own_logout(server, user):  # noqa: F811
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        result = execute(ws, "mutation { logout { __typename } %s }" % AFTER)
    assert codes(result["data"]) == {
        "logout": "LogoutResult", "mail": "invalid_token", "password": "invalid_token", "touched": "invalid_token",
        "refreshed": "invalid_token"}
    assert address_of(user) == "alice@example.com"


# --- a revocation by another request while a change runs ----------------------------------------


@pytest.fixture
def revoked_while_checking(monkeypatch, user):
    """``logoutAll`` from elsewhere commits after the change read the request's token, while
    the password is being checked: before the change takes the user's row lock."""
    check = User.check_password

    def check_then_revoked(self, raw):
        outcome = check(self, raw)
        tokens.revoke_all_tokens(user)
        return outcome

    monkeypatch.setattr(User, "check_password", check_then_revoked)


@pytest.mark.parametrize("confirm", [False, True], ids=["at-once", "with-confirmation"])
def test_an_email_change_a_logout_overtook_changes_nothing(adapter, confirm, settings, user, login_token,
                                                           revoked_while_checking):
    if confirm:
        settings.GQL_AUTHTOKEN = CONFIRM
    assert adapter.change_email(login_token, PASSWORD, NEW) == "invalid_token"
    assert address_of(user) == "alice@example.com"
    assert not EmailConfirmationToken.objects.exists()
    assert not mail.outbox


def test_the_core_function_without_a_token_still_changes_the_address(user):
    assert email_change.change_email(None, user, password=PASSWORD, new_email=NEW).user == user
    assert address_of(user) == NEW



def test_a_password_set_by_update_ends_the_tokens_and_revoking_removes_their_rows(user, login_token):
    """The documented handling of bulk changes (docs/security.md, Revocation): no signal, so no row
    is deleted, but the lookup compares the digest of the hash (cached copies once invalidated)."""
    User.objects.filter(pk=user.pk).update(password=make_password("set-by-update-1"))
    invalidate_user_tokens(user)
    for use_cache in (True, False):
        with pytest.raises(InvalidToken):
            tokens.authenticate_token(login_token, use_cache=use_cache)
    assert AuthToken.objects.filter(user_id=user.pk).count() == 1
    assert tokens.revoke_all_tokens(user) == 1


# --- a revocation racing a write that rests on the token (PostgreSQL: row locks) -----------------

CHANGES = {
    "changeEmail": 'mutation { x: changeEmail(password: "%s", newEmail: "%s") { __typename } }' % (PASSWORD, NEW),
    "changePassword": 'mutation { x: changePassword(oldPassword: "%s", newPassword: "an0ther-Passw0rd") '
                      "{ __typename } }" % PASSWORD,
    "apiaccess": None,  # REST POST auth/apiaccess/: an API key minted on the token
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("revocation", ["logout", "revokeSession", "logoutAll"])
def test_a_revocation_that_comes_while_a_change_runs_waits_for_it(transactional_db, settings, monkeypatch,
                                                                  change, revocation):
    """The change found its token live: a revocation arriving now must wait for the change
    to commit and then revoke whatever rests on the token, never let it commit afterwards."""
    settings.GQL_AUTHTOKEN = {**CONFIRM, "API_ACCESS_CLIENT_NAME": "api"}
    Client.objects.create(name="api", token_ttl=None)
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    token = tokens.issue_token(user).token
    session = tokens.authenticate_token(token)
    revoke = {"logout": lambda: tokens.logout(None, AuthToken.objects.get(pk=session.pk)),
              "revokeSession": lambda: sessions.revoke_session(user, str(session.pk)),
              "logoutAll": lambda: tokens.revoke_all_tokens(user)}[revocation]
    revoker: dict = {}
    check = tokens.require_live

    def checked_then_revoked(live):
        check(live)
        if "thread" not in revoker:
            revoker["thread"] = threading.Thread(target=lambda: (revoker.setdefault("count", revoke()),
                                                                 connections.close_all()))
            revoker["thread"].start()
            revoker["thread"].join(0.5)
            revoker["waited"] = revoker["thread"].is_alive()

    monkeypatch.setattr(tokens, "require_live", checked_then_revoked)
    if CHANGES[change] is None:
        response = DjangoClient().post("/auth/apiaccess/", headers=auth_header(token))
        assert response.status_code == 201, response.content
        minted = response.json()["token"]
    else:
        result = post("/graphql/sync/", {"query": CHANGES[change]}, token)
        assert result["data"]["x"]["__typename"] != "OperationInfo", result
    revoker["thread"].join(10)
    assert revoker["waited"], "the revocation did not wait for the change"
    assert revoker["count"] >= 1  # it found the token still there, after the change
    assert not AuthToken.objects.filter(pk=session.pk).exists()
    if change == "apiaccess":  # a key made while the session lived is a credential of its own
        if revocation == "logoutAll":  # which a logoutAll after it ends with the rest
            with pytest.raises(InvalidToken):
                tokens.authenticate_token(minted)
        else:
            assert tokens.authenticate_token(minted).user == user


REVOKERS = {
    "admin-revoke-selected": lambda user: tokens.revoke_tokens(AuthToken.objects.filter(user_id=user.pk)),
    "revoke_all_tokens-command": lambda user: tokens.revoke_every_token(),
    "user-deleted": lambda user: User.objects.filter(pk=user.pk).delete(),
    "client-deleted": lambda user: Client.objects.filter(name="web").delete(),  # its tokens cascade
    # Run two hours on (the revoker thread's clock only): every token of the user has expired.
    "clear_expired_tokens-command": lambda user: tokens.clear_expired_tokens(),
}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
@pytest.mark.parametrize(("revoker", "change"), [
    *((revoker, change) for revoker in REVOKERS for change in ("changePassword", "apiaccess")
      # These two delete only web tokens, or expired ones: not the new key.
      if change == "changePassword" or revoker not in ("client-deleted", "clear_expired_tokens-command")),
])
def test_a_revocation_of_all_the_users_rows_waits_for_a_change_instead_of_deadlocking(
        transactional_db, settings, monkeypatch, change, revoker):
    """Revocations that take no lock of their own (the admin, the commands, deleting the user or the
    client) lock the user first, as the change did: they used to lock token rows first and deadlock
    with it."""
    settings.GQL_AUTHTOKEN = {"API_ACCESS_CLIENT_NAME": "api"}
    Client.objects.create(name="api", token_ttl=None)
    web = Client.objects.create(name="web", token_ttl=timedelta(hours=1))
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    *others, token = [tokens.issue_token(user, client=web).token for _ in range(4)]  # the request's: the newest
    outcome: dict = {}
    check = tokens.require_live
    now = clock.now
    monkeypatch.setattr(clock, "now", lambda: now() + timedelta(hours=2 if threading.current_thread().name ==
                                                                          "revoker" else 0))

    def checked_then_revoked(live):
        check(live)
        if "thread" not in outcome:
            def revoke():
                try:
                    REVOKERS[revoker](user)
                    outcome["revoked"] = True
                except Exception as error:  # a deadlock, reported by PostgreSQL to one of the two
                    outcome["revoked"] = error
                finally:
                    connections.close_all()

            outcome["thread"] = threading.Thread(target=revoke, name="revoker")
            outcome["thread"].start()
            outcome["thread"].join(0.5)
            outcome["waited"] = outcome["thread"].is_alive()

    monkeypatch.setattr(tokens, "require_live", checked_then_revoked)
    if change == "apiaccess":
        response = DjangoClient().post("/auth/apiaccess/", headers=auth_header(token))
        assert response.status_code == 201, response.content
    else:
        result = post("/graphql/sync/", {"query": CHANGES["changePassword"]}, token)
        assert result["data"]["x"]["__typename"] == "ChangePasswordResult", result
    outcome["thread"].join(10)
    assert outcome["revoked"] is True and outcome["waited"]
    left = AuthToken.objects.filter(user_id=user.pk)
    if (revoker, change) == ("admin-revoke-selected", "apiaccess"):
        assert [t.client.name for t in left] == ["api"]  # the rows the admin selected are gone; the key came later
    else:
        assert not left.exists()
    for each in (*others, token):
        with pytest.raises(InvalidToken):
            tokens.authenticate_token(each)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
@pytest.mark.parametrize("made", ["login", "email-change-link"])
@pytest.mark.parametrize("login_commits", ["before-the-lock", "after-the-lock"])
def test_deleting_a_user_while_a_login_for_them_commits_deletes_both(transactional_db, monkeypatch, login_commits,
                                                                     made, settings):
    """Django collects the rows it deletes before the deletion's user lock: a login that commits
    in between used to fail the deletion with an IntegrityError (and leave the user). One that
    comes after the lock waits for it and is refused."""
    from gql_authtoken import models

    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    tokens.issue_token(user)
    outcome: dict = {}

    settings.GQL_AUTHTOKEN = CONFIRM

    def log_in():
        try:
            if made == "login":
                outcome["token"] = tokens.issue_token(user, password_hash=user.password).token
            else:
                email_confirmation.start_email_change(user, NEW)
                outcome["token"] = None
        except Exception as error:
            outcome["error"] = error
        finally:
            connections.close_all()

    lock = models.lock_users  # the deletion's lock (receivers.on_user_deleting)

    def login_around_the_lock(keys, *fields):
        outcome["thread"] = thread = threading.Thread(target=log_in)
        if login_commits == "before-the-lock":
            thread.start()
            thread.join(10)
            assert "token" in outcome
            return lock(keys, *fields)
        locked = lock(keys, *fields)
        thread.start()
        thread.join(0.5)
        outcome["waited"] = thread.is_alive()
        return locked

    monkeypatch.setattr(models, "lock_users", login_around_the_lock)
    User.objects.get(pk=user.pk).delete()
    outcome["thread"].join(10)
    assert not User.objects.filter(pk=user.pk).exists()
    assert not AuthToken.objects.exists() and not EmailConfirmationToken.objects.exists()
    if login_commits == "before-the-lock":
        if made == "login":
            with pytest.raises(InvalidToken):
                tokens.authenticate_token(outcome["token"])
    else:
        # A login is refused; the link is not made (its user is gone), whatever the error says.
        assert outcome["waited"] and "error" in outcome, outcome
        assert made != "login" or isinstance(outcome["error"], InvalidCredentials), outcome
