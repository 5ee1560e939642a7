"""A ``Client`` deleted (the admin, a shell) while a login or an API key names it.

Django checks foreign keys at the commit: a token written for a client that
was deleted meanwhile used to fail that commit with an ``IntegrityError`` (a
500 for the login, or for the admin's deletion). The login now answers
``unknown_client`` and writes nothing, or, when it got there first, the
deletion waits for it and takes its token along.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.signals import user_logged_in
from django.db import connection, connections, transaction
from django.db.models import deletion
from django.db.models.signals import pre_delete
from rest_framework.test import APIClient

from gql_authtoken import login, models, sessions, tokens
from gql_authtoken.exceptions import InvalidToken, UnknownClient
from gql_authtoken.models import AuthToken, Client

from .conftest import PASSWORD
from .test_registration_concurrency import run_concurrently

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="concurrency tests need PostgreSQL (SQLite lets one writer in at a time)")


def test_a_client_deleted_after_the_login_found_it(transactional_db, adapter, user, clients, monkeypatch):
    real_authenticate = login.authenticate

    def authenticate_then_client_deleted(request, **credentials):
        found = real_authenticate(request, **credentials)
        Client.objects.filter(name="web").delete()  # the admin, between the lookup and the token
        return found

    monkeypatch.setattr(login, "authenticate", authenticate_then_client_deleted)
    assert adapter.login("alice", PASSWORD, client="web") == ("unknown_client", None)
    assert not AuthToken.objects.exists()
    monkeypatch.undo()
    code, token = adapter.login("alice", PASSWORD, client="cli")  # nothing left half done
    assert code == "ok" and tokens.authenticate_token(token).client == clients["cli"]


def test_an_api_key_for_a_client_deleted_meanwhile_is_404(transactional_db, user, login_token, settings,
                                                          monkeypatch):
    settings.GQL_AUTHTOKEN = {"API_ACCESS_CLIENT_NAME": "api"}
    api = Client.objects.create(name="api")
    old_key = tokens.issue_token(user, client=api).instance
    real_client = sessions.api_access_client

    def found_then_deleted():
        found = real_client()
        Client.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(sessions, "api_access_client", found_then_deleted)
    response = APIClient().post("/auth/apiaccess/", HTTP_AUTHORIZATION=f"Token {login_token}")
    assert response.status_code == 404, response.content
    assert not AuthToken.objects.filter(client_id=api.pk).exists()
    assert not AuthToken.objects.filter(pk=old_key.pk).exists()
    assert tokens.authenticate_token(login_token).user == user  # the session that asked is untouched


@needs_postgres
@pytest.mark.parametrize("earlier_token", [False, True], ids=["first-login", "with-a-token-of-the-client"])
def test_a_deletion_waits_for_a_login_holding_the_client_and_takes_its_token(transactional_db, user, clients,
                                                                              monkeypatch, earlier_token):
    if earlier_token:  # the deletion then locks this user too, after the client (the login's own order)
        tokens.issue_token(user, client=clients["web"])
    held = threading.Event()
    real_hold = models.hold_client

    def hold_then_linger(client):
        result = real_hold(client)
        held.set()
        time.sleep(0.5)  # the deletion starts meanwhile, and must wait for this login's commit
        return result

    monkeypatch.setattr(models, "hold_client", hold_then_linger)

    def delete_client():
        assert held.wait(timeout=10)
        return Client.objects.filter(name="web").delete()

    issued, deletion = run_concurrently(
        lambda: login.login(None, username="alice", password=PASSWORD, client=clients["web"]), delete_client
    )
    assert isinstance(issued, tokens.IssuedToken), issued
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion  # no IntegrityError
    assert not Client.objects.filter(name="web").exists() and not AuthToken.objects.exists()
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(issued.token)


@needs_postgres
def test_a_login_waits_for_a_deletion_of_its_client_and_writes_nothing(transactional_db, user, clients):
    deleting = threading.Event()

    def delete_client_slowly():
        with transaction.atomic():
            Client.objects.filter(name="web").delete()
            deleting.set()
            time.sleep(0.5)  # the login reaches the client's row meanwhile
        return "deleted"

    def log_in():
        assert deleting.wait(timeout=10)
        return login.login(None, username="alice", password=PASSWORD, client=clients["web"])

    outcomes = run_concurrently(delete_client_slowly, log_in)
    assert outcomes[0] == "deleted" and isinstance(outcomes[1], UnknownClient), outcomes
    assert not AuthToken.objects.exists()


@needs_postgres
def test_a_bulk_deletion_of_clients_and_a_login_do_not_deadlock(transactional_db, user, clients):
    """The admin's "delete selected" removes several clients in one transaction (Django asks each
    one's receivers in turn). A login naming one must never hold a lock the deletion waits for
    while it waits for the deletion: PostgreSQL then killed one of the two (a 500). Alice has a
    token of each, so the deletion locks her too; she logs in naming the client it comes to last."""
    for client in clients.values():
        tokens.issue_token(user, client=client)
    first_held = threading.Event()
    held = []

    def slow_after_the_first(sender, instance, **kwargs):  # runs after the package's own receiver
        held.append(instance.name)
        if len(held) == 1:
            first_held.set()
            time.sleep(0.7)  # the login comes meanwhile

    pre_delete.connect(slow_after_the_first, sender=Client, weak=False, dispatch_uid="t-slow-client-deletion")
    try:
        def log_in():
            assert first_held.wait(timeout=10)
            [name] = set(clients) - {held[0]}
            return login.login(None, username="alice", password=PASSWORD, client=clients[name])

        deletion, logged_in = run_concurrently(
            lambda: Client.objects.filter(pk__in=[c.pk for c in clients.values()]).delete(), log_in
        )
    finally:
        pre_delete.disconnect(dispatch_uid="t-slow-client-deletion", sender=Client)
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 2, deletion
    assert isinstance(logged_in, UnknownClient), logged_in
    assert not Client.objects.exists() and not AuthToken.objects.exists()


@needs_postgres
def test_an_atomic_login_upgrading_the_password_hash_and_a_deletion_of_its_client_do_not_deadlock(
        transactional_db, user, clients, monkeypatch):
    """Under ``ATOMIC_REQUESTS`` the save of a password hash that Django upgrades in ``authenticate``
    (here: a salt too short for today's hasher) locks the user to the commit. The login used to hold
    the client only after that, while a deletion of the client (which locks the users of its tokens
    after the client) waited for the user: PostgreSQL killed one of the two."""
    tokens.issue_token(user, client=clients["web"])  # the deletion locks alice too
    type(user).objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    old_hash = type(user).objects.get(pk=user.pk).password
    authenticated = threading.Event()
    real_authenticate = login.authenticate

    def authenticate_then_linger(request, **credentials):
        found = real_authenticate(request, **credentials)
        authenticated.set()
        time.sleep(0.5)  # the deletion starts meanwhile
        return found

    monkeypatch.setattr(login, "authenticate", authenticate_then_linger)

    def atomic_login():
        with transaction.atomic():
            return login.login(None, username="alice", password=PASSWORD, client=clients["web"])

    def delete_client():
        assert authenticated.wait(timeout=10)
        return Client.objects.filter(name="web").delete()

    issued, deletion = run_concurrently(atomic_login, delete_client)
    assert isinstance(issued, tokens.IssuedToken), issued  # the deletion waited for the login's commit
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion
    assert type(user).objects.get(pk=user.pk).password != old_hash  # upgraded, so the user was locked
    assert not AuthToken.objects.exists()


def test_an_atomic_login_naming_a_deleted_client_counts_nothing(transactional_db, user, clients, settings):
    settings.GQL_AUTHTOKEN = {"LOGIN_THROTTLE_RATE": "1/min"}
    stale = Client.objects.get(name="web")
    stale.delete()
    stale.pk = clients["web"].pk
    with pytest.raises(UnknownClient), transaction.atomic():
        login.login(None, username="alice", password=PASSWORD, client=stale)
    issued = login.login(None, username="alice", password=PASSWORD, client=clients["cli"])  # not throttled
    assert tokens.authenticate_token(issued.token).client == clients["cli"]


@needs_postgres
@pytest.mark.parametrize("rotate", [True, False], ids=["refresh-and-rotate", "refresh"])
def test_an_atomic_refresh_and_rotation_and_a_deletion_of_its_client_do_not_deadlock(
        transactional_db, user, clients, rotate):
    """``refresh(rotate: true)`` under ``ATOMIC_REQUESTS`` writes the token's row twice: PostgreSQL
    then checks its foreign keys again at the commit, taking the client's key-share lock after
    the user's. A deletion of the client (the client, then the users of its tokens) deadlocked
    with it; the refresh now holds the client first, and the deletion waits for its commit."""
    issued = tokens.issue_token(user, client=clients["web"])
    written = threading.Event()

    def atomic_refresh():
        with transaction.atomic():
            session = tokens.authenticate_token(issued.token)
            tokens.refresh_token(session)
            new = tokens.rotate_token(session) if rotate else None
            written.set()
            time.sleep(0.5)  # the deletion starts meanwhile
        return new

    def delete_client():
        assert written.wait(timeout=10)
        return Client.objects.filter(name="web").delete()

    refreshed, deletion = run_concurrently(atomic_refresh, delete_client)
    assert not isinstance(refreshed, Exception), refreshed
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion
    assert not AuthToken.objects.exists()


@needs_postgres
def test_a_queryset_deleted_again_locks_again(transactional_db, user):
    """What the first client's call locked is kept on that deletion's transaction block, not on the
    QuerySet: a module-level QuerySet of a periodic job (or a retry after a failed deletion)
    deleted a second time used to skip every lock, and failed on a login's new token."""
    stale = Client.objects.filter(name__startswith="tmp-")
    Client.objects.create(name="tmp-1")
    stale.delete()
    client = Client.objects.create(name="tmp-2")
    in_login = threading.Event()

    def slow_receiver(sender, **kwargs):  # a project's user_logged_in receiver: the login holds its client
        in_login.set()
        time.sleep(0.5)

    user_logged_in.connect(slow_receiver, weak=False, dispatch_uid="t-slow-login")
    try:
        def delete_again():
            assert in_login.wait(timeout=10)
            return stale.delete()

        issued, deletion = run_concurrently(
            lambda: login.login(None, username="alice", password=PASSWORD, client=client), delete_again)
    finally:
        user_logged_in.disconnect(dispatch_uid="t-slow-login")
    assert isinstance(issued, tokens.IssuedToken), issued
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion
    assert not AuthToken.objects.exists()


@needs_postgres
def test_a_client_its_queryset_no_longer_matches_is_locked_at_its_own_call(transactional_db, user, monkeypatch):
    """"Delete the clients nobody uses": a login that commits after Django collected the rows takes
    its client out of the QuerySet read again at the first client's call. That client is locked
    (and its new token deleted) at its own call, never left to fail the deletion's commit."""
    Client.objects.create(name="old-a")
    client = Client.objects.create(name="old-x")
    collected = threading.Event()
    real_delete = deletion.Collector.delete

    def delete_a_moment_later(self):
        if Client in self.data:
            collected.set()
            time.sleep(0.5)  # between Django's collection and its deletion
        return real_delete(self)

    monkeypatch.setattr(deletion.Collector, "delete", delete_a_moment_later)

    def log_in():
        assert collected.wait(timeout=10)
        return login.login(None, username="alice", password=PASSWORD, client=client)

    deleted, issued = run_concurrently(lambda: Client.objects.filter(auth_tokens__isnull=True).delete(), log_in)
    assert isinstance(issued, tokens.IssuedToken), issued
    assert isinstance(deleted, tuple) and deleted[1]["gql_authtoken.Client"] == 2, deleted
    assert not Client.objects.exists() and not AuthToken.objects.exists()


@needs_postgres
@pytest.mark.parametrize("how", ["choose_client", "rest-atomic-requests"])
def test_an_atomic_login_choosing_its_client_after_a_hash_upgrade_and_a_deletion_of_it_do_not_deadlock(
        transactional_db, user, clients, monkeypatch, how):
    """brk86: the client that ``choose_client`` picks (the REST ``LoginView``, as durin's) is known
    only after ``authenticate``, whose upgraded hash locks the user to the commit; holding the
    client then waited for a deletion that waited for the user (a deadlock, a 500). Now the login
    answers ``unknown_client`` at once and writes nothing, and the deletion goes on."""
    tokens.issue_token(user, client=clients["web"])  # the deletion locks alice too
    type(user).objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    deleting = threading.Event()
    real_authenticate = login.authenticate

    def authenticate_then_linger(request, **credentials):
        found = real_authenticate(request, **credentials)
        deleting.set()
        time.sleep(0.5)  # the deletion locks the client meanwhile, then waits for alice
        return found

    monkeypatch.setattr(login, "authenticate", authenticate_then_linger)

    def atomic_login():
        if how == "choose_client":
            with transaction.atomic():
                return login.login(None, username="alice", password=PASSWORD, choose_client=lambda u: clients["web"])
        monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)
        response = APIClient().post("/auth/login/", {"username": "alice", "password": PASSWORD, "client": "web"},
                                    format="json")
        return response.status_code, response.json()

    def delete_client():
        assert deleting.wait(timeout=10)
        return Client.objects.filter(name="web").delete()

    logged_in, deletion = run_concurrently(atomic_login, delete_client)
    if how == "choose_client":
        assert isinstance(logged_in, UnknownClient), logged_in
    else:
        assert logged_in == (400, {"client": ["Unknown client."]}), logged_in
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion
    assert not AuthToken.objects.exists()


@needs_postgres
def test_an_atomic_change_password_upgrading_the_hash_and_a_deletion_of_its_client_do_not_deadlock(
        transactional_db, user, clients, monkeypatch):
    """brk87: inside a transaction, a hash that Django upgrades in ``check_password`` locks the
    user to the commit, and the kept token's row is written twice (the upgrade carries its digest
    over, then the new password's): PostgreSQL checked its client key at the commit, after the
    user's lock, while a deletion of the client waited for the user (a deadlock, a 500). The
    change now holds the token's client first; the deletion waits for it and takes the token."""
    from gql_authtoken.accounts import fields, passwords

    type(user).objects.filter(pk=user.pk).update(password=make_password(PASSWORD, salt="ab", hasher="md5"))
    issued = tokens.issue_token(type(user).objects.get(pk=user.pk), client=clients["web"])
    token = tokens.authenticate_token(issued.token)
    checked = threading.Event()
    real_password_errors = fields.password_errors

    def password_errors_then_linger(*args, **kwargs):  # after check_password upgraded the hash
        checked.set()
        time.sleep(0.5)  # the deletion starts meanwhile
        return real_password_errors(*args, **kwargs)

    monkeypatch.setattr(fields, "password_errors", password_errors_then_linger)

    def atomic_change():
        with transaction.atomic():
            return passwords.change_password(None, user, token, old_password=PASSWORD,
                                             new_password="an0ther-Passw0rd-xyz")

    def delete_client():
        assert checked.wait(timeout=10)
        return Client.objects.filter(name="web").delete()

    changed, deletion = run_concurrently(atomic_change, delete_client)
    assert changed == 0, changed  # no other session; the deletion waited for the commit
    assert isinstance(deletion, tuple) and deletion[1]["gql_authtoken.Client"] == 1, deletion
    assert not AuthToken.objects.exists()
    assert type(user).objects.get(pk=user.pk).check_password("an0ther-Passw0rd-xyz")
