"""The revocation matrix: every way a session ends x every consumer -> the very next request is refused.

Each consumer is used twice before the revocation (so the cached ones answer
from the cache), then once after it; the token must be refused by all of them.
The second-process column needs a database and a cache that processes share
(PostgreSQL and Redis in CI).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db import transaction as django_transaction
from django.db.models.signals import post_save
from django.test import AsyncClient
from django.test import Client as DjangoClient
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gql_authtoken import clock, crypto, sessions, tokens
from gql_authtoken.accounts import passwords
from gql_authtoken.cache import invalidate_user_tokens
from gql_authtoken.models import AuthToken, Client

from .conftest import PASSWORD, as_of_migration, free_port, http_json, server_processes, wait_until_listening
from .revocation_settings import GQL_AUTHTOKEN as MATRIX_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
ME_QUERY = "{ me { username } }"
SHARED = connection.vendor == "postgresql" and "redis" in django_settings.CACHES["default"]["BACKEND"]


# --- consumers: each answers whether the token is accepted ----------------------------------


def _rest(path, token):
    status = DjangoClient().get(path, headers={"Authorization": f"Token {token}"}).status_code
    assert status in (200, 401), status
    return status == 200


def _graphql(kind, token):
    body = json.dumps({"query": "{ me { username } }"})
    kwargs = {"content_type": "application/json", "headers": {"Authorization": f"Token {token}"}}
    if kind == "async":
        response = async_to_sync(AsyncClient().post)("/graphql/async/", body, **kwargs)
    else:
        response = DjangoClient().post("/graphql/sync/", body, **kwargs)
    assert response.status_code == 200, response.content
    return response.json()["data"]["me"] is not None


def _second_process(port, token):
    cached_status, _ = http_json(port, "/cached/", token)
    plain_status, _ = http_json(port, "/not-cli/", token)
    status, body = http_json(port, "/graphql/sync/", token, json_body={"query": "{ me { username } }"})
    assert status == 200
    answers = {cached_status == 200, plain_status == 200, body["data"]["me"] is not None}
    assert len(answers) == 1, "the second process's consumers disagree"
    return answers.pop()


class OpenWebSocket:
    """A graphql-transport-ws connection opened with the token before the revocation.

    Each use runs ``{ me { username } }`` on the same socket; a refusal is the
    server closing it with 4403.
    """

    def __init__(self, url):
        self.url, self.ws, self.count, self.stack = url, None, 0, contextlib.ExitStack()

    def __call__(self, ctx, token):
        if self.ws is None:
            self.ws = self.stack.enter_context(connect(self.url, subprotocols=["graphql-transport-ws"],
                                                       open_timeout=5))
            self.ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Token {token}"}}))
            assert json.loads(self.ws.recv(timeout=5))["type"] == "connection_ack"
        self.count += 1
        self.ws.send(json.dumps({"id": str(self.count), "type": "subscribe", "payload": {"query": ME_QUERY}}))
        try:
            message = json.loads(self.ws.recv(timeout=5))
        except ConnectionClosed as closed:
            assert closed.rcvd.code == 4403, closed.rcvd
            return False
        assert message["type"] == "next", message
        assert json.loads(self.ws.recv(timeout=5))["type"] == "complete"
        return message["payload"]["data"]["me"] is not None

    def mutate(self, query):
        """Run a mutation on the open socket; its ``data``."""
        self.count += 1
        self.ws.send(json.dumps({"id": str(self.count), "type": "subscribe", "payload": {"query": query}}))
        message = json.loads(self.ws.recv(timeout=5))
        assert message["type"] == "next", message
        assert json.loads(self.ws.recv(timeout=5))["type"] == "complete"
        return message["payload"]["data"]

    def close(self):
        self.stack.close()


CONSUMERS = {
    "rest-token": lambda ctx, token: _rest("/not-cli/", token),
    "rest-cached": lambda ctx, token: _rest("/cached/", token),
    "graphql-sync": lambda ctx, token: _graphql("sync", token),
    "graphql-async": lambda ctx, token: _graphql("async", token),
}


# --- ways a session ends --------------------------------------------------------------------


def _gql_mutation(token, query):
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = DjangoClient().post("/graphql/sync/", json.dumps({"query": query}), content_type="application/json",
                                   headers=headers)
    assert response.status_code == 200
    payload = next(iter(response.json()["data"].values()))
    assert payload["__typename"] != "OperationInfo", payload
    return payload


def _admin(ctx):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = DjangoClient()
    client.force_login(admin)
    return client


def logout(ctx):
    assert DjangoClient().post("/auth/logout/", headers={"Authorization": f"Token {ctx.token}"}).status_code == 204


def logout_all(ctx):
    _gql_mutation(ctx.other, "mutation { logoutAll { __typename ... on LogoutResult { revokedSessions } } }")


def revoke_session(ctx):
    pk = AuthToken.objects.get(digest=crypto.hash_token(ctx.token)).pk
    _gql_mutation(ctx.other, f'mutation {{ revokeSession(id: "{pk}") {{ __typename }} }}')


def rotate(ctx):
    response = DjangoClient().put("/auth/token/", headers={"Authorization": f"Token {ctx.token}"})
    assert response.status_code == 200 and response.json()["token"] != ctx.token


def refresh_rotate(ctx):
    _gql_mutation(ctx.token, "mutation { refresh(rotate: true) { __typename } }")


def set_password(ctx):
    ctx.user.set_password("another " + PASSWORD)
    ctx.user.save()


def assign_make_password(ctx):
    ctx.user.password = make_password("another " + PASSWORD)
    ctx.user.save()


def assign_make_password_update_fields(ctx):
    ctx.user.password = make_password("another " + PASSWORD)
    ctx.user.save(update_fields=["password"])


def set_unusable_password(ctx):
    ctx.user.set_unusable_password()
    ctx.user.save()


def admin_sets_password(ctx):
    data = {"password1": "a new long passphrase 42", "password2": "a new long passphrase 42", "usable_password": "true"}
    response = _admin(ctx).post(f"/admin/auth/user/{ctx.user.pk}/password/", data)
    assert response.status_code == 302, response.content[:2000]


def admin_disables_password(ctx):
    response = _admin(ctx).post(f"/admin/auth/user/{ctx.user.pk}/password/",
                                {"usable_password": "false", "unset-password": "1"})
    assert response.status_code == 302, response.content[:2000]
    ctx.user.refresh_from_db()
    assert not ctx.user.has_usable_password()


NEW_PASSWORD = "a-Strong-new-passphrase-42"
CHANGE_PASSWORD = ('mutation { changePassword(oldPassword: "%s", newPassword: "%s") '
                   "{ __typename ... on ChangePasswordResult { revokedSessions } } }" % (PASSWORD, NEW_PASSWORD))


def change_password_graphql(ctx):
    """Another session of the user changes the password: this one ends, that one stays."""
    assert _gql_mutation(ctx.other, CHANGE_PASSWORD)["revokedSessions"] == 1


def change_password_rest(ctx):
    response = DjangoClient().post("/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                                   content_type="application/json", headers={"Authorization": f"Token {ctx.other}"})
    assert response.json() == {"revoked_sessions": 1}


def reset_password(ctx):
    body = {"token": passwords.make_reset_token(ctx.user), "new_password": NEW_PASSWORD}
    response = DjangoClient().post("/auth/password/reset/confirm/", body, content_type="application/json")
    assert response.json() == {"success": True}


def deactivate(ctx):
    ctx.user.is_active = False
    ctx.user.save()


def delete_user(ctx):
    ctx.user.delete()


def admin_deletes_user(ctx):
    assert _admin(ctx).post(f"/admin/auth/user/{ctx.user.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not get_user_model().objects.filter(pk=ctx.user.pk).exists()


def delete_client(ctx):
    Client.objects.get(name="web").delete()


def admin_deletes_token(ctx):
    pk = AuthToken.objects.get(digest=crypto.hash_token(ctx.token)).pk
    data = {"action": "delete_selected", "_selected_action": [pk], "post": "yes"}
    assert _admin(ctx).post("/admin/gql_authtoken/authtoken/", data).status_code == 302
    assert not AuthToken.objects.filter(pk=pk).exists()


def queryset_delete(ctx):
    AuthToken.objects.filter(user=ctx.user).delete()


def raw_delete_and_invalidate(ctx):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuthToken._meta.db_table} WHERE user_id = %s", [ctx.user.pk])
    invalidate_user_tokens(ctx.user)


def expiry(ctx):
    time.sleep(max(0.0, (ctx.instance.expiry - clock.now()).total_seconds()) + 0.05)


def lifetime_cap(ctx):
    # The token was created before the cap was set (no expiry of its own); the cap ends it.
    time.sleep(max(0.0, (ctx.instance.created + MATRIX_SETTINGS["MAX_TOKEN_LIFETIME"]
                         - clock.now()).total_seconds()) + 0.05)


def revoke_all_tokens_command(ctx):
    with open(os.devnull, "w") as devnull:
        call_command("revoke_all_tokens", "--force", stdout=devnull)


def api_key_replacement(ctx):
    response = DjangoClient().post("/auth/apiaccess/", headers={"Authorization": f"Token {ctx.other}"})
    assert response.status_code == 201


WAYS = {
    "logout": logout,
    "logoutAll": logout_all,
    "revokeSession": revoke_session,
    "rotate": rotate,
    "refresh-rotate": refresh_rotate,
    "set_password": set_password,
    "assign-make_password": assign_make_password,
    "assign-make_password-update_fields": assign_make_password_update_fields,
    "set_unusable_password": set_unusable_password,
    "admin-sets-password": admin_sets_password,
    "admin-disables-password": admin_disables_password,
    "changePassword": change_password_graphql,
    "password-change-rest": change_password_rest,
    "resetPassword": reset_password,
    "deactivate": deactivate,
    "delete-user": delete_user,
    "admin-deletes-user": admin_deletes_user,
    "delete-client": delete_client,
    "admin-deletes-token": admin_deletes_token,
    "queryset-delete": queryset_delete,
    "raw-delete-and-invalidate": raw_delete_and_invalidate,
    "expiry": expiry,
    "lifetime-cap": lifetime_cap,
    "revoke_all_tokens-command": revoke_all_tokens_command,
    "api-key-replacement": api_key_replacement,
}


class Subject:
    """The user, the token under test (``token``) and another session of theirs (``other``)."""

    def __init__(self, way):
        self.user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
        web = Client.objects.create(name="web", token_ttl=timedelta(hours=2))
        Client.objects.create(name="api", token_ttl=None)
        self.other = tokens.issue_token(self.user).token
        if way == "expiry":
            short = Client.objects.create(name="short", token_ttl=timedelta(seconds=3))
            issued = tokens.issue_token(self.user, client=short)
        elif way == "lifetime-cap":
            self.token = crypto.generate_token(length=64)
            created = clock.now() - MATRIX_SETTINGS["MAX_TOKEN_LIFETIME"] + timedelta(seconds=3)
            self.instance = AuthToken.objects.create(user=self.user, digest=crypto.hash_token(self.token),
                                                     created=created, expiry=None)
            return
        elif way == "api-key-replacement":
            response = DjangoClient().post("/auth/apiaccess/", headers={"Authorization": f"Token {self.other}"})
            self.token = response.json()["token"]
            self.instance = AuthToken.objects.get(digest=crypto.hash_token(self.token))
            return
        else:
            issued = tokens.issue_token(self.user, client=web)
        self.token, self.instance = issued.token, issued.instance


@pytest.fixture(scope="module")
def second_process(django_db_setup, django_db_blocker):
    """One more server process on the test database and the shared cache."""
    if not SHARED:
        yield None
        return
    db = connection.settings_dict
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.revocation_settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    with server_processes(env, 1) as (port,):
        yield port


@pytest.fixture(scope="module")
def websocket_server():
    """The test project's ASGI app (Channels) under uvicorn, in this process."""
    from tests.asgi import application

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off",
                                          log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until_listening(port)
    yield f"ws://127.0.0.1:{port}/graphql/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def matrix_settings(settings):
    settings.GQL_AUTHTOKEN = MATRIX_SETTINGS


@pytest.mark.parametrize("way", list(WAYS))
def test_the_next_request_after_a_revocation_is_refused_everywhere(
    way, transactional_db, matrix_settings, second_process, websocket_server
):
    ctx = Subject(way)
    websocket = OpenWebSocket(websocket_server)
    consumers = {**CONSUMERS, "open-websocket": websocket}
    if second_process is not None:
        consumers["second-process"] = lambda ctx, token: _second_process(second_process, token)
    for name, accepts in consumers.items():
        for _ in range(2):  # the second use answers from the cache where there is one
            assert accepts(ctx, ctx.token), f"{name} refused the token before it was revoked"
    try:
        WAYS[way](ctx)
        accepted = [name for name, accepts in consumers.items() if accepts(ctx, ctx.token)]
    finally:
        websocket.close()
    assert accepted == [], f"after {way}, still accepted by {accepted}"


@pytest.mark.parametrize("through", ["graphql", "rest", "websocket"])
def test_change_password_keeps_the_current_session_everywhere(
    through, transactional_db, matrix_settings, second_process, websocket_server
):
    """API.md §10: after changePassword the request's own token works in every consumer
    (cached ones included, and a socket open with it), and the user's other token in none."""
    ctx = Subject("changePassword")
    current, other = ctx.token, ctx.other
    sockets = {current: OpenWebSocket(websocket_server), other: OpenWebSocket(websocket_server)}
    consumers = dict(CONSUMERS)
    if second_process is not None:
        consumers["second-process"] = lambda ctx, token: _second_process(second_process, token)
    consumers["open-websocket"] = lambda ctx, token: sockets[token](ctx, token)
    try:
        for token in (current, other):
            for name, accepts in consumers.items():
                for _ in range(2):
                    assert accepts(ctx, token), f"{name} refused a token before the change"
        if through == "graphql":
            assert _gql_mutation(current, CHANGE_PASSWORD)["revokedSessions"] == 1
        elif through == "rest":
            response = DjangoClient().post(
                "/auth/password/change/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                content_type="application/json", headers={"Authorization": f"Token {current}"})
            assert response.json() == {"revoked_sessions": 1}
        else:
            data = sockets[current].mutate(CHANGE_PASSWORD)
            assert data["changePassword"] == {"__typename": "ChangePasswordResult", "revokedSessions": 1}
        refused_current = [name for name, accepts in consumers.items() if not accepts(ctx, current)]
        accepted_other = [name for name, accepts in consumers.items() if accepts(ctx, other)]
    finally:
        for socket in sockets.values():
            socket.close()
    assert refused_current == [], f"the current session was refused by {refused_current}"
    assert accepted_other == [], f"the other session was still accepted by {accepted_other}"
    ctx.user.refresh_from_db()
    assert ctx.user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("login_through", ["rest", "graphql", "admin"])
def test_the_hash_upgrade_at_login_is_not_a_password_change(login_through, db, settings):
    """Django re-hashes a password whose hash has fewer iterations than the hasher's
    default when it logs the user in; that keeps every session."""
    from django.contrib.auth.hashers import identify_hasher

    from .hashers import FewIterationsPBKDF2PasswordHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.FewIterationsPBKDF2PasswordHasher"]
    user = get_user_model().objects.create_user("alice", "alice@example.com")
    old_hash = FewIterationsPBKDF2PasswordHasher().encode(PASSWORD, "somesalt", iterations=1000)
    get_user_model().objects.filter(pk=user.pk).update(password=old_hash, is_staff=True, is_superuser=True)
    token = tokens.issue_token(user).token
    assert _rest("/cached/", token) and _rest("/cached/", token)
    if login_through == "rest":
        assert DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    elif login_through == "graphql":
        _gql_mutation(None, f'mutation {{ login(username: "alice", password: "{PASSWORD}") {{ __typename }} }}')
    else:
        response = DjangoClient().post("/admin/login/", {"username": "alice", "password": PASSWORD})
        assert response.status_code == 302
    user.refresh_from_db()
    assert identify_hasher(user.password).decode(user.password)["iterations"] == 2000  # upgraded
    assert _rest("/cached/", token) and _rest("/not-cli/", token) and _graphql("sync", token)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="concurrent logins need PostgreSQL (SQLite's shared-cache test database locks tables)")
def test_two_logins_at_once_upgrading_one_hash_keep_every_session(transactional_db, clients, monkeypatch):
    """Both logins verify the outdated hash; the first saves its upgrade, the second saves another
    over it (stored: a current hash, of the same password), then both issue their tokens (the first
    finds the second's hash). That is no password change: nothing is revoked, and neither login is
    refused. Before, the second save revoked every session, or the first login was refused."""
    import django.contrib.auth.base_user as base_user

    from gql_authtoken import login

    from .test_registration_concurrency import run_concurrently

    user = get_user_model().objects.create_user("alice", "alice@example.com")
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    elsewhere = tokens.issue_token(user, client=clients["cli"])
    both_checked, first_saved, second_saved = threading.Barrier(2), threading.Event(), threading.Event()
    real_check, real_issue = base_user.check_password, tokens.issue_token

    def check_password(raw_password, encoded, setter=None, *args):
        def save_in_turn(raw):
            if both_checked.wait(timeout=10) == 0:
                setter(raw)
                first_saved.set()
            else:
                assert first_saved.wait(timeout=10)
                setter(raw)
                second_saved.set()

        return real_check(raw_password, encoded, save_in_turn if setter else None, *args)

    def issue_once_both_saved(*args, **kwargs):
        assert second_saved.wait(timeout=10)
        return real_issue(*args, **kwargs)

    monkeypatch.setattr(base_user, "check_password", check_password)
    monkeypatch.setattr(tokens, "issue_token", issue_once_both_saved)

    def log_in():
        return login.login(None, username="alice", password=PASSWORD, client=clients["web"])

    logins = run_concurrently(log_in, log_in)
    monkeypatch.undo()
    assert all(isinstance(issued, tokens.IssuedToken) for issued in logins), logins
    for issued in (*logins, elsewhere):
        assert tokens.authenticate_token(issued.token).user == user
    user.refresh_from_db()
    assert user.password.startswith("md5$") and user.check_password(PASSWORD)


def _change_before_the_re_hash(monkeypatch, user, change):
    """Another request saves ``change(owner)`` on ``user``'s row (unless ``change`` deleted it)
    after a check matched the old, outdated hash and before Django's re-hash save
    (``hashers.check_password``'s setter)."""
    import django.contrib.auth.base_user as base_user

    real_check = base_user.check_password

    def check_password(raw_password, encoded, setter=None, *args):
        def changed_first(raw):
            owner = get_user_model().objects.get(pk=user.pk)
            change(owner)
            if owner.pk is not None:
                owner.save()
            setter(raw)

        return real_check(raw_password, encoded, changed_first if setter else None, *args)

    monkeypatch.setattr(base_user, "check_password", check_password)


def test_a_login_with_the_old_password_racing_a_change_gets_nothing_and_keeps_the_new_one(
        transactional_db, clients, monkeypatch):
    """The password changes (set_password() and save(): every session revoked) while a login with
    the old one runs, after its check matched the old, outdated hash. Django's re-hash save would
    write the old password back over the new one, and the login would get a token: the new hash
    is kept instead, the check fails, and the login is refused."""

    from gql_authtoken import login
    from gql_authtoken.exceptions import InvalidCredentials, InvalidToken

    user = get_user_model().objects.create_user("alice", "alice@example.com")
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    elsewhere = tokens.issue_token(user, client=clients["cli"])
    _change_before_the_re_hash(monkeypatch, user, lambda owner: owner.set_password("a new password 42"))
    with pytest.raises(InvalidCredentials):
        login.login(None, username="alice", password=PASSWORD, client=clients["web"])
    monkeypatch.undo()
    stored = get_user_model().objects.get(pk=user.pk)
    assert stored.check_password("a new password 42") and not stored.check_password(PASSWORD)
    assert not AuthToken.objects.exists()  # elsewhere: revoked by the change; none for the login
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(elsewhere.token)


@pytest.mark.parametrize("kind", ["rest", "graphql sync", "graphql async"])
def test_a_user_deleted_while_the_re_hash_runs_gets_invalid_credentials(transactional_db, monkeypatch, kind):
    """brk77: the user is deleted after a login's check matched the outdated hash and before
    Django's re-hash save, which then updated no row (a DatabaseError, a 500). The login is
    refused as for a wrong password, and nothing is left behind."""
    from .adapters import GraphQLAdapter, RestAdapter

    user = _md5_user()
    _change_before_the_re_hash(monkeypatch, user, lambda owner: owner.delete())
    adapter = RestAdapter() if kind == "rest" else GraphQLAdapter(kind.split()[1])
    assert adapter.login("alice", PASSWORD) == ("invalid_credentials", None)
    # (The deletion ran on the login's own connection here, so the check's rollback undid it.)
    assert not AuthToken.objects.exists()


def test_a_deleted_user_s_stale_instance_fails_its_check_without_an_error(db):
    """The same in the shell: an instance loaded before its user was deleted."""
    user = _md5_user()
    stale = get_user_model().objects.get(pk=user.pk)
    get_user_model().objects.filter(pk=user.pk).delete()
    assert stale.check_password(PASSWORD) is False
    assert not get_user_model().objects.exists()


def _md5_user(password=PASSWORD):
    """alice, whose stored hash Django re-hashes at her next login (an older hasher)."""
    user = get_user_model().objects.create_user("alice", "alice@example.com")
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(password, salt="ab", hasher="md5"))
    return user


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="a change in flight in another connection needs PostgreSQL (SQLite locks the table)")
def test_a_login_with_the_old_password_during_an_uncommitted_change_gets_nothing(transactional_db, clients):
    """The change is saved but its transaction is still open (the rest of its request runs) when
    a login with the old, outdated password re-hashes it. The re-hash reads the row under a lock,
    so it waits for the change to commit and finds the new hash: the login is refused and the new
    password stands. Before, Django's re-hash wrote the old password back and the login got the
    only live token."""
    from gql_authtoken import login
    from gql_authtoken.exceptions import InvalidCredentials

    user = _md5_user()
    saved = threading.Event()

    def change_password():
        with django_transaction.atomic():
            owner = get_user_model().objects.get(pk=user.pk)
            owner.set_password(NEW_PASSWORD)
            owner.save()
            saved.set()
            time.sleep(1)  # the rest of the request, the row locked
        return "changed"

    def log_in():
        assert saved.wait(timeout=10)
        return login.login(None, username="alice", password=PASSWORD, client=clients["web"])

    from .test_registration_concurrency import run_concurrently

    changed, logged_in = run_concurrently(change_password, log_in)
    assert changed == "changed" and isinstance(logged_in, InvalidCredentials), logged_in
    stored = get_user_model().objects.get(pk=user.pk)
    assert stored.check_password(NEW_PASSWORD) and not stored.check_password(PASSWORD)
    assert not AuthToken.objects.exists()


def test_the_async_check_is_watched_as_the_sync_one(transactional_db, clients, monkeypatch, settings):
    """``aauthenticate`` (``acheck_password``): the re-hash at login keeps every session, and a
    change racing it is kept, as for ``authenticate``."""
    from django.contrib.auth import aauthenticate

    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher", *settings.PASSWORD_HASHERS]
    user = _md5_user()
    elsewhere = tokens.issue_token(user, client=clients["cli"])
    assert async_to_sync(aauthenticate)(None, username="alice", password=PASSWORD) == user
    user.refresh_from_db()
    assert user.password.startswith("fast_sha256$")  # re-hashed
    assert tokens.authenticate_token(elsewhere.token).user == user

    get_user_model().objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    _change_before_the_re_hash(monkeypatch, user, lambda owner: owner.set_password(NEW_PASSWORD))
    assert async_to_sync(aauthenticate)(None, username="alice", password=PASSWORD) is None
    monkeypatch.undo()
    stored = get_user_model().objects.get(pk=user.pk)
    assert stored.check_password(NEW_PASSWORD) and not stored.check_password(PASSWORD)


class LegacyHashBackend(ModelBackend):
    """Users moved from another system keep an unusable password here; their old hash is saved
    at their first login, then checked, and Django re-hashes and saves it."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            return None
        if not user.has_usable_password():
            user.password = make_password(PASSWORD, salt="legacy", hasher="md5")  # from the old system
            user.save(update_fields=["password"])  # saved first: only in memory, it counts as stale
        return user if user.check_password(password) and self.user_can_authenticate(user) else None


def test_a_backend_migrating_legacy_hashes_logs_the_user_in(db, settings):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.LegacyHashBackend"]
    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher", *settings.PASSWORD_HASHERS]
    user = get_user_model().objects.create_user("alice", "alice@example.com")  # unusable password
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.password.startswith("fast_sha256$")  # the legacy hash, re-hashed and saved
    assert tokens.authenticate_token(response.json()["token"]).user == user


def test_a_login_with_the_old_password_does_not_undo_a_disabled_password(transactional_db, clients, monkeypatch):
    """An administrator disables the password (set_unusable_password) while a login with the old,
    outdated one is checked: the login is refused and the password stays disabled."""

    from gql_authtoken import login
    from gql_authtoken.exceptions import InvalidCredentials

    user = _md5_user()
    _change_before_the_re_hash(monkeypatch, user, lambda owner: owner.set_unusable_password())
    with pytest.raises(InvalidCredentials):
        login.login(None, username="alice", password=PASSWORD, client=clients["web"])
    monkeypatch.undo()
    assert not get_user_model().objects.get(pk=user.pk).has_usable_password()
    assert not AuthToken.objects.exists()


def test_a_failed_re_hash_save_leaves_no_mark_on_the_user(db, monkeypatch):
    """A check whose re-hash save fails (the database is gone) raises; the instance's next check
    of the right password still passes."""
    user = _md5_user()
    stale = get_user_model().objects.get(pk=user.pk)
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD, salt="cd", hasher="md5"))

    def fail(**kwargs):
        raise DatabaseError("connection lost")

    post_save.connect(fail, sender=get_user_model(), dispatch_uid="fail-re-hash")
    try:
        with pytest.raises(DatabaseError):
            stale.check_password(PASSWORD)  # matched the old hash; the change is kept
    finally:
        post_save.disconnect(sender=get_user_model(), dispatch_uid="fail-re-hash")
    assert stale.check_password(NEW_PASSWORD)


# --- the paths of the issue one by one ----------------------------------------------------



def _me(token):
    return _graphql("sync", token)


def test_a_deleted_row_is_never_brought_back_by_recording_its_use(db, monkeypatch):
    """Raw SQL deletes the row and nobody invalidates: once ``last_used`` is due, its
    UPDATE matches no row, and from then on the token is refused (never re-cached)."""
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token = tokens.issue_token(user).token
    assert _me(token) and _me(token)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuthToken._meta.db_table}")
    later = clock.now() + timedelta(minutes=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert not _me(token)
    assert not _me(token) and not _rest("/cached/", token)


def test_changing_a_client_reaches_its_cached_tokens(db):
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    web = Client.objects.create(name="web", token_ttl=None)
    token = tokens.issue_token(user, client=web).token
    query = json.dumps({"query": "{ webOnly }"})
    post = lambda: DjangoClient().post("/graphql/sync/", query, content_type="application/json",  # noqa: E731
                                       headers={"Authorization": f"Token {token}"}).json()
    assert post()["data"] == {"webOnly": "web"}
    assert post()["data"] == {"webOnly": "web"}  # from the cache
    web.name = "mobile"
    web.save()
    assert post()["errors"][0]["extensions"]["code"] == "permission_denied"


@pytest.fixture
def capped(settings):
    settings.GQL_AUTHTOKEN = {"MAX_TOKEN_LIFETIME": timedelta(days=30)}


def _old_token(user, *, age, expiry=None):
    """A token issued ``age`` ago without the cap (an imported DRF token has no expiry)."""
    token = crypto.generate_token(length=64)
    created = clock.now() - age
    instance = AuthToken.objects.create(user=user, digest=crypto.hash_token(token), created=created, expiry=expiry)
    return token, instance


def test_the_lifetime_cap_ends_tokens_issued_before_it_was_set(transactional_db, db, capped):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token, _ = _old_token(user, age=timedelta(days=31))
    young, _ = _old_token(user, age=timedelta(days=29), expiry=clock.now() + timedelta(days=400))
    response = DjangoClient().get("/not-cli/", headers={"Authorization": f"Token {token}"})
    assert (response.status_code, response.json()) == (401, {"detail": "Token has expired."})
    assert not AuthToken.objects.filter(digest=crypto.hash_token(token)).exists()
    assert _rest("/cached/", young)
    active = sessions.list_sessions(user)
    assert len(active) == 1


def test_the_lifetime_cap_is_checked_on_cache_hits(db, settings, monkeypatch):
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token, _ = _old_token(user, age=timedelta(days=29))
    assert _me(token) and _me(token)
    settings.GQL_AUTHTOKEN = {"MAX_TOKEN_LIFETIME": timedelta(days=29)}
    assert not _me(token)


def test_refresh_past_the_cap_is_token_expired_never_a_past_expiry(db, capped):
    from gql_authtoken.exceptions import TokenExpired

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token, instance = _old_token(user, age=timedelta(days=31))
    with pytest.raises(TokenExpired):
        tokens.refresh_token(instance)
    payload = DjangoClient().post(
        "/graphql/sync/", json.dumps({"query": "mutation { refresh { __typename ... on OperationInfo "
                                                "{ messages { code } } } }"}),
        content_type="application/json", headers={"Authorization": f"Token {token}"}).json()["data"]["refresh"]
    assert payload == {"__typename": "OperationInfo", "messages": [{"code": "token_expired"}]}
    token, instance = _old_token(user, age=timedelta(days=29, hours=23))
    response = DjangoClient().post("/auth/refresh/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    instance.refresh_from_db()
    assert instance.expiry == instance.created + timedelta(days=30) > clock.now()


@pytest.mark.parametrize("through", ["core", "rest", "graphql"])
def test_refresh_never_answers_an_expiry_past_the_cap(db, capped, through):
    """A token issued before the cap was set, with a later expiry than the cap allows: a refresh
    answers (and stores) the cap, as token/ GET and sessions show it, never the old expiry."""
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token, instance = _old_token(user, age=timedelta(days=1), expiry=clock.now() + timedelta(days=60))
    cap = instance.created + timedelta(days=30)
    if through == "core":
        assert tokens.refresh_token(instance) == cap
    elif through == "rest":
        response = DjangoClient().post("/auth/refresh/", headers={"Authorization": f"Token {token}"})
        assert response.status_code == 200
        shown = DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {token}"}).json()
        assert response.json() == shown
    else:
        payload = _gql_mutation(token, "mutation { refresh { __typename ... on RefreshResult { expiry } } }")
        assert datetime.fromisoformat(payload["expiry"]) == cap
    instance.refresh_from_db()
    assert instance.expiry == cap


def _outdated_user(settings):
    """alice, whose hash has fewer iterations than the hasher's: her next login re-hashes it."""
    from .hashers import FewIterationsPBKDF2PasswordHasher

    settings.PASSWORD_HASHERS = ["tests.hashers.FewIterationsPBKDF2PasswordHasher"]
    user = get_user_model().objects.create_user("alice", "alice@example.com")
    old_hash = FewIterationsPBKDF2PasswordHasher().encode(PASSWORD, "somesalt", iterations=1000)
    get_user_model().objects.filter(pk=user.pk).update(password=old_hash)
    user.refresh_from_db()
    return user


def test_assigning_a_current_hash_over_an_outdated_one_is_a_password_change(db, settings):
    """Saved with update_fields=["password"] outside check_password(): not Django's re-hash."""
    user = _outdated_user(settings)
    token = tokens.issue_token(user).token
    assert _rest("/cached/", token) and _rest("/cached/", token)
    user.password = make_password("another " + PASSWORD)
    user.save(update_fields=["password"])
    assert not _rest("/cached/", token) and not _rest("/not-cli/", token)
    assert not AuthToken.objects.filter(user=user).exists()


def test_clear_expired_tokens_clears_capped_ones(db, capped):
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    _old_token(user, age=timedelta(days=31))
    _old_token(user, age=timedelta(days=1))
    assert tokens.clear_expired_tokens() == 1
    assert AuthToken.objects.count() == 1


def test_deactivation_revokes_so_reactivation_brings_no_session_back(db):
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token = tokens.issue_token(user).token
    assert _me(token)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user.is_active = True
    user.save()
    assert not _me(token) and not _rest("/not-cli/", token)


def _built_copy(user, **changes):
    """An instance of ``user``'s row built in code (not read from the database), with ``changes``."""
    fields = get_user_model().objects.filter(pk=user.pk).values()[0]
    return get_user_model()(**{**fields, **changes})


@pytest.mark.parametrize("changes", [{"password": make_password(NEW_PASSWORD)}, {"is_active": False}],
                         ids=["new hash", "deactivated"])
def test_a_change_saved_from_an_instance_built_in_code_revokes(db, changes):
    """brk79: ``User(pk=..., ...).save()`` updates the stored row although Django counts the
    instance as new (``_state.adding``); its change went unseen and revoked nothing."""
    from gql_authtoken.exceptions import InvalidToken

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    _built_copy(user, **changes).save()
    assert not AuthToken.objects.exists()
    reactivated = get_user_model().objects.get(pk=user.pk)
    reactivated.is_active = True
    reactivated.save()
    with pytest.raises(InvalidToken):  # API.md §8: re-activation brings no session back
        tokens.authenticate_token(issued.token)


def test_a_new_password_loaded_from_a_fixture_revokes(db, tmp_path):
    """``loaddata`` builds the instance and saves it raw, updating the stored row."""
    from gql_authtoken.exceptions import InvalidToken

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    fields = {**get_user_model().objects.filter(pk=user.pk).values()[0], "password": make_password(NEW_PASSWORD)}
    pk = fields.pop("id")
    fixture = tmp_path / "users.json"
    fixture.write_text(json.dumps([{"model": get_user_model()._meta.label_lower, "pk": pk,
                                    "fields": {name: value.isoformat() if isinstance(value, datetime) else value
                                               for name, value in fields.items()}}]))
    call_command("loaddata", str(fixture), verbosity=0)
    assert get_user_model().objects.get(pk=pk).check_password(NEW_PASSWORD)
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(issued.token)


def test_a_user_created_with_a_chosen_key_is_just_created(db):
    """A new row with a key given in code: nothing to compare, nothing revoked."""
    get_user_model()(pk=41, username="carol", password=make_password(PASSWORD)).save()
    assert get_user_model().objects.get(pk=41).check_password(PASSWORD)


# --- a new password hash written without save() ----------------------------------------------


def _write_hash_without_save(user, how, new_hash):
    user_model = get_user_model()
    if how == "QuerySet.update":
        user_model.objects.filter(pk=user.pk).update(password=new_hash)
    elif how == "bulk_update":
        user.password = new_hash
        user_model.objects.bulk_update([user], ["password"])
    elif how == "upsert":
        user_model.objects.bulk_create([user_model(username=user.username, password=new_hash)],
                                       update_conflicts=True, unique_fields=["username"], update_fields=["password"])
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {user_model._meta.db_table} SET password = %s WHERE id = %s", [new_hash, user.pk])


@pytest.mark.parametrize("how", ["QuerySet.update", "bulk_update", "upsert", "raw SQL"])
def test_a_new_password_hash_written_without_save_ends_the_tokens_issued_before(db, how):
    """No signal tells the package; each token keeps the digest of the hash it was issued under
    (``AuthToken.password_digest``), so the next lookup in the database refuses it, as Django's
    sessions end (API.md §8 asks only for ``save()``). A cached copy lasts until
    ``invalidate_user_tokens``, or ``TOKEN_CACHE_TIMEOUT`` (docs/security.md)."""
    from gql_authtoken.exceptions import InvalidToken

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    bob = get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    issued, bystander = tokens.issue_token(user).token, tokens.issue_token(bob).token
    assert _rest("/not-cli/", issued) and _rest("/cached/", issued) and _me(issued)
    _write_hash_without_save(user, how, make_password(NEW_PASSWORD))
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(issued)
    assert not _rest("/not-cli/", issued)
    invalidate_user_tokens(user)
    assert not _rest("/cached/", issued) and not _me(issued) and not _graphql("async", issued)
    assert _rest("/not-cli/", bystander) and _me(bystander)
    response = DjangoClient().post("/auth/login/", {"username": "alice", "password": NEW_PASSWORD})
    assert response.status_code == 200
    fresh = response.json()["token"]
    assert _rest("/not-cli/", fresh) and _rest("/cached/", fresh) and _me(fresh)


def test_a_token_row_from_before_the_digest_was_kept_still_works(db):
    """Rows written before migration 0006 (or by code) have no digest: nothing to compare."""
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    AuthToken.objects.filter(pk=issued.instance.pk).update(password_digest="")
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    assert _rest("/not-cli/", issued.token)


def test_the_re_hash_at_login_carries_the_sessions_over_to_the_new_hash(db, settings):
    user = _outdated_user(settings)
    old_hash = user.password
    issued = tokens.issue_token(user)
    assert DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    user.refresh_from_db()
    assert user.password != old_hash
    from gql_authtoken.models import password_digest

    assert AuthToken.objects.get(pk=issued.instance.pk).password_digest == password_digest(user.password)
    assert _rest("/not-cli/", issued.token)


def test_a_save_that_failed_leaves_nothing_for_the_next_save_to_compare(db):
    """brk81: the stored values read before a save that then failed (an IntegrityError) stayed on
    the instance, and a later save of other fields compared against them: an unsaved new password
    in memory revoked every session although the stored hash never changed."""
    from django.db import IntegrityError

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    user.username, user.password = "bob", make_password(NEW_PASSWORD)
    with pytest.raises(IntegrityError), django_transaction.atomic():
        user.save()
    user.first_name = "Alice"
    user.save(update_fields=["first_name"])
    assert get_user_model().objects.get(pk=user.pk).check_password(PASSWORD)
    assert tokens.authenticate_token(issued.token).user.first_name == "Alice"


def test_the_sessions_list_leaves_out_tokens_whose_hash_was_replaced(db):
    """They no longer authenticate: listing them would show sessions that are not there."""
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    tokens.issue_token(user)
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    fresh = tokens.issue_token(user)
    assert [session.id for session in sessions.list_sessions(user)] == [str(fresh.instance.pk)]


def test_a_cached_token_whose_hash_was_replaced_mints_no_api_key(db, settings):
    """brk82: within the cache window the dead token's cached copy still authenticates (documented),
    but nothing may rest on it: an API key made then rested on the new hash and outlived both
    the window and ``invalidate_user_tokens``."""
    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "API_ACCESS_CLIENT_NAME": "api"}
    Client.objects.create(name="api", token_ttl=timedelta(days=365))
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    stolen = tokens.issue_token(user)
    cached = tokens.authenticate_token(stolen.token)  # what a cache hit would hand the view
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    from gql_authtoken.exceptions import InvalidToken

    with pytest.raises(InvalidToken):
        sessions.issue_api_key(user, session=cached)
    assert not AuthToken.objects.filter(client__name="api").exists()
    if SHARED:  # a real cache hit, over HTTP
        headers = {"Authorization": f"Token {tokens.issue_token(user).token}"}
        assert DjangoClient().get("/cached/", headers=headers).status_code == 200  # cached
        get_user_model().objects.filter(pk=user.pk).update(password=make_password(PASSWORD))
        assert DjangoClient().get("/cached/", headers=headers).status_code == 200  # the documented window
        assert DjangoClient().post("/auth/apiaccess/", headers=headers).status_code == 401
        assert not AuthToken.objects.filter(client__name="api").exists()


def test_an_email_change_link_dies_with_a_hash_replaced_without_save(db, settings, mailoutbox):
    """brk82: a link asked for with a stolen password and token, then the owner's hash replaced by
    ``QuerySet.update()``: the token died, the link moved the account to the attacker's mailbox."""
    import re

    from gql_authtoken import email_confirmation
    from gql_authtoken.accounts import email_change
    from gql_authtoken.exceptions import InvalidConfirmationToken

    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "http://testserver"}}
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    token = tokens.issue_token(user).instance
    email_change.change_email(None, user, password=PASSWORD, new_email="mallory@example.com", token=token)
    link = re.search(r"/auth/register/confirm/([^/\s]+)/", mailoutbox[0].body).group(1)
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    with pytest.raises(InvalidConfirmationToken):
        email_confirmation.consume_confirmation_token(link, now=clock.now())
    assert get_user_model().objects.get(pk=user.pk).email == "alice@example.com"


def test_change_password_accepts_the_old_password_re_hashed_by_a_login_meanwhile(db, settings, monkeypatch):
    """brk82: changePassword's check re-hashed an outdated hash, then a login that had read the
    outdated one re-hashed it again (another hash of the same password) before the save; the
    stored hash is no longer the one checked, but it is of the old password: no refusal."""
    user = _outdated_user(settings)
    own, other = tokens.issue_token(user), tokens.issue_token(user)
    racing_login = get_user_model().objects.get(pk=user.pk)  # read the outdated hash
    save = passwords._save_password

    def after_a_login_re_hashed(*args, **kwargs):
        assert racing_login.check_password(PASSWORD)  # re-hashes and saves
        return save(*args, **kwargs)

    monkeypatch.setattr(passwords, "_save_password", after_a_login_re_hashed)
    assert passwords.change_password(None, user, own.instance, old_password=PASSWORD,
                                     new_password=NEW_PASSWORD) == 1
    assert get_user_model().objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert _rest("/not-cli/", own.token) and not _rest("/not-cli/", other.token)


def test_rows_from_before_the_migration_get_their_digest_from_the_command(transactional_db, settings):
    """Migration 0006 adds the columns only (with a database default: a server of the previous
    release, which names no such column, still inserts rows); ``fill_password_digests`` then gives
    the existing tokens and pending email change links the digest of their user's hash."""
    from gql_authtoken import email_confirmation
    from gql_authtoken.exceptions import InvalidConfirmationToken

    now = clock.now()
    plaintext = {}
    with as_of_migration("0005_email_change_purpose") as old_apps:
        OldUser = old_apps.get_model(settings.AUTH_USER_MODEL)
        OldToken = old_apps.get_model("gql_authtoken", "AuthToken")
        for name in ("alice", "bob", "carol"):
            user = OldUser.objects.create(username=name, email=f"{name}@example.com", password=make_password(PASSWORD))
            plaintext[name] = token = crypto.generate_token(length=64)
            OldToken.objects.create(user=user, digest=crypto.hash_token(token), created=now, last_used=now)
        link = crypto.generate_token(length=64)
        old_apps.get_model("gql_authtoken", "EmailConfirmationToken").objects.create(
            user=OldUser.objects.get(username="alice"), email="new@example.com", digest=crypto.hash_token(link),
            created=now, purpose="email_change")
    with connection.cursor() as cursor:  # as the previous release inserts: no password_digest named
        cursor.execute(f"INSERT INTO {AuthToken._meta.db_table} (user_id, digest, created, user_agent) "
                       "VALUES (%s, %s, %s, '')", [get_user_model().objects.get(username="carol").pk,
                                                  crypto.hash_token("carol-2"), now])
    assert set(AuthToken.objects.values_list("password_digest", flat=True)) == {""}
    get_user_model().objects.filter(username="carol").update(password=make_password(NEW_PASSWORD))
    assert _rest("/not-cli/", plaintext["carol"])  # not checked before the command: only save() ends it
    call_command("fill_password_digests", "--batch-size", "1", stdout=io.StringIO())
    assert not AuthToken.objects.filter(password_digest="").exists()
    assert all(_rest("/not-cli/", plaintext[name]) for name in plaintext)
    get_user_model().objects.filter(username="alice").update(password=make_password(NEW_PASSWORD))
    assert not _rest("/not-cli/", plaintext["alice"]) and _rest("/not-cli/", plaintext["bob"])
    with pytest.raises(InvalidConfirmationToken):
        email_confirmation.consume_confirmation_token(link, now=clock.now())


def test_a_login_re_hash_keeps_a_pending_email_change_link(db, settings, mailoutbox):
    """brk84: after the site moved to a new hasher, the re-hash at the next login carried the
    sessions over to the new hash, not the user's pending email change link."""
    import re

    from gql_authtoken import email_confirmation
    from gql_authtoken.accounts import email_change

    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "http://testserver"}}
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    session = tokens.issue_token(user)
    email_change.change_email(None, user, password=PASSWORD, new_email="alice@new.example", token=session.instance)
    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher", *settings.PASSWORD_HASHERS]
    assert DjangoClient().post("/auth/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    assert get_user_model().objects.get(pk=user.pk).password.startswith("fast_sha256$")  # re-hashed
    assert _rest("/not-cli/", session.token)
    link = re.search(r"/auth/register/confirm/([^/\s]+)/", mailoutbox[0].body).group(1)
    assert email_confirmation.consume_confirmation_token(link, now=clock.now())[1] == "alice@new.example"


@pytest.mark.parametrize("how", ["refresh", "rotate"])
def test_a_dead_token_s_cached_copy_is_neither_refreshed_nor_rotated(db, how):
    """brk84: after a hash written without save(), a copy still served from the cache answered a
    refresh (and a new token) for a row that no longer authenticates."""
    from gql_authtoken.exceptions import InvalidToken

    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = tokens.issue_token(user)
    cached = tokens.authenticate_token(issued.token)
    expiry = AuthToken.objects.get().expiry
    get_user_model().objects.filter(pk=user.pk).update(password=make_password(NEW_PASSWORD))
    with pytest.raises(InvalidToken):
        (tokens.refresh_token if how == "refresh" else tokens.rotate_token)(cached)
    row = AuthToken.objects.get()
    assert row.expiry == expiry and row.digest == crypto.hash_token(issued.token)


def test_an_email_change_link_asked_beside_a_login_re_hash_works(db, settings, mailoutbox, monkeypatch):
    """brk85: changeEmail's check re-hashed an outdated hash (H0 -> H1), then a login that had read
    H0 re-hashed again (H1 -> H2) before the link was made: the link rested on H1, dead on arrival."""
    import re

    from gql_authtoken import email_confirmation
    from gql_authtoken.accounts import email_change

    settings.GQL_AUTHTOKEN = {**settings.GQL_AUTHTOKEN, "REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "http://testserver"}}
    user = get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)
    session = tokens.issue_token(user)
    settings.PASSWORD_HASHERS = ["tests.hashers.FastSHA256PasswordHasher", *settings.PASSWORD_HASHERS]
    other_login, requester = get_user_model().objects.get(pk=user.pk), get_user_model().objects.get(pk=user.pk)
    start = email_confirmation.start_email_change

    def after_the_other_login_re_hashed(*args, **kwargs):
        assert other_login.check_password(PASSWORD)
        return start(*args, **kwargs)

    monkeypatch.setattr(email_confirmation, "start_email_change", after_the_other_login_re_hashed)
    email_change.change_email(None, requester, password=PASSWORD, new_email="alice@new.example",
                              token=tokens.authenticate_token(session.token))
    assert get_user_model().objects.get(pk=user.pk).password != requester.password  # H2 stored, H1 checked
    link = re.search(r"/auth/register/confirm/([^/\s]+)/", mailoutbox[0].body).group(1)
    assert email_confirmation.consume_confirmation_token(link, now=clock.now())[1] == "alice@new.example"
