"""Token views under ``ATOMIC_REQUESTS`` (or inside a project's own ``transaction.atomic``).

Recording a token's use (``last_used``) is a write to its row. Inside a
transaction that write used to hold the row until the view returned, ahead of
the user's row lock that every revocation takes first (``models.lock_user``):
two requests of one user that both changed the password, or logged out
everywhere, deadlocked on PostgreSQL. The use is now recorded when the
transaction commits, and a rolled back request records none.
"""

from __future__ import annotations

import functools
import json
import threading
from contextlib import nullcontext
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import AsyncClient
from django.test import Client as DjangoClient

from gql_authtoken import cache as token_cache
from gql_authtoken import clock, models, signals, tokens
from gql_authtoken.accounts import passwords
from gql_authtoken.cache import invalidate_user_tokens
from gql_authtoken.conf import auth_settings
from gql_authtoken.exceptions import InvalidCredentials, InvalidToken
from gql_authtoken.models import AuthToken, EmailConfirmationToken

from .conftest import PASSWORD, auth_header
from .test_registration_concurrency import run_concurrently

User = get_user_model()

ROTATE = "mutation { x: refresh(rotate: true) { __typename ... on OperationInfo { messages { code } } } }"
REFRESH_THEN_LOGOUT_ALL = ("mutation { r: refresh { __typename } x: logoutAll { __typename "
                           "... on OperationInfo { messages { code } } } }")
CHANGE_PASSWORD = ('mutation { x: changePassword(oldPassword: "%s", newPassword: "an0ther-Passw0rd") '
                   "{ __typename ... on OperationInfo { messages { code } } } }" % PASSWORD)
LOGOUT_ALL = "mutation { x: logoutAll { __typename ... on OperationInfo { messages { code } } } }"


@pytest.fixture
def atomic_requests(monkeypatch):
    """``ATOMIC_REQUESTS = True`` on the default database (Django reads it at each request)."""
    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)


def stale_use(*rows: AuthToken) -> None:
    """Make each row's last recorded use old enough that the next request records a new one."""
    AuthToken.objects.filter(pk__in=[row.pk for row in rows]).update(last_used=clock.now() - timedelta(days=1))
    for user_id in {row.user_id for row in rows}:  # a bulk update: cached copies must hear of it
        invalidate_user_tokens(user_id)


def graphql(query: str, token: str) -> tuple[int, dict | None]:
    response = DjangoClient(raise_request_exception=False).post(
        "/graphql/sync/", json.dumps({"query": query}), content_type="application/json", headers=auth_header(token))
    return response.status_code, (response.json() if response.status_code == 200 else None)


def rest_logout_all(token: str) -> tuple[int, dict | None]:
    """The answer as the GraphQL one would read: 204 logged out, 401 the token was revoked meanwhile."""
    response = DjangoClient(raise_request_exception=False).post("/auth/logoutall/", headers=auth_header(token))
    outcome = {204: "LogoutResult", 401: "invalid_token"}.get(response.status_code)
    if outcome is None:
        return response.status_code, None
    return 200, {"data": {"x": {"__typename": outcome} if response.status_code == 204 else
                          {"__typename": "OperationInfo", "messages": [{"code": outcome}]}}}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
@pytest.mark.parametrize(("first", "second"), [
    ("changePassword", "changePassword"),
    ("changePassword", "logoutAll"),
    ("changePassword", "rest-logoutall"),
    ("logoutAll", "rest-logoutall"),
    # A refresh with rotation writes its row twice: at commit PostgreSQL checks the row's foreign
    # key again (FOR KEY SHARE on the user), which waited for the other's user lock.
    ("rotate", "logoutAll"),
    ("rotate", "changePassword"),
    ("rotate", "rest-logoutall"),
    # A refresh then a revocation in one document: the refresh locks the user first.
    ("refreshThenLogoutAll", "logoutAll"),
    ("refreshThenLogoutAll", "changePassword"),
])
def test_two_sessions_of_one_user_writing_at_once_do_not_deadlock(transactional_db, atomic_requests, monkeypatch,
                                                                  first, second):
    """Both requests have authenticated (and recorded their use) before either takes the user's
    lock: one waits for the other, and neither fails with a deadlock (a 500)."""
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    issued = [tokens.issue_token(user) for _ in range(2)]
    stale_use(*(each.instance for each in issued))
    arrived = threading.Barrier(2, timeout=10)
    waited: set[str] = set()

    def at_the_lock(real):
        def locking(*args, **kwargs):
            name = threading.current_thread().name
            if name not in waited:  # each request's first user lock: the other has authenticated by now
                waited.add(name)
                arrived.wait()
            return real(*args, **kwargs)
        return locking

    monkeypatch.setattr(models, "lock_user", at_the_lock(models.lock_user))  # under models.user_locked
    calls = {"changePassword": lambda token: graphql(CHANGE_PASSWORD, token),
             "logoutAll": lambda token: graphql(LOGOUT_ALL, token),
             "rotate": lambda token: graphql(ROTATE, token),
             "refreshThenLogoutAll": lambda token: graphql(REFRESH_THEN_LOGOUT_ALL, token),
             "rest-logoutall": rest_logout_all}
    answers = run_concurrently(*(functools.partial(calls[name], each.token)
                                 for name, each in zip((first, second), issued, strict=True)))
    assert [status for status, _payload in answers] == [200, 200], answers
    outcomes = []
    for _status, payload in answers:
        assert "errors" not in payload, payload
        result = payload["data"]["x"]
        outcomes.append(result["messages"][0]["code"] if result["__typename"] == "OperationInfo"
                        else result["__typename"])
    # Whichever went first revoked the other's session: the second then finds its token revoked
    # (or the password already changed), an answer of its own, never a half-done change.
    assert set(outcomes) <= {"ChangePasswordResult", "LogoutResult", "RefreshResult", "invalid_token",
                             "invalid_password"}
    live = [each.token for each in issued if tokens.is_live(each.token)]
    assert len(live) <= 1


def test_a_request_under_atomic_requests_records_its_use_at_commit(transactional_db, atomic_requests, user,
                                                                   login_token):
    row = AuthToken.objects.get(user=user)
    stale_use(row)
    before = AuthToken.objects.get(pk=row.pk).last_used
    status, payload = graphql("{ me { username } }", login_token)
    assert status == 200 and payload["data"]["me"] == {"username": user.username}
    assert AuthToken.objects.get(pk=row.pk).last_used > before


def test_the_sessions_list_shows_the_use_this_request_recorded(transactional_db, atomic_requests, user,
                                                               login_token):
    """The row has it only at commit: the list takes the request's own session from the request."""
    stale_use(AuthToken.objects.get(user=user))
    query = "{ currentSession { lastUsed } sessions { lastUsed isCurrent } }"
    _status, payload = graphql(query, login_token)
    [listed] = payload["data"]["sessions"]
    assert listed == {"lastUsed": payload["data"]["currentSession"]["lastUsed"], "isCurrent": True}
    stale_use(AuthToken.objects.get(user=user))
    response = DjangoClient().get("/auth/sessions/", headers=auth_header(login_token))
    [rest] = response.json()
    assert rest["last_used"] == AuthToken.objects.get(user=user).last_used.isoformat().replace("+00:00", "Z")


def test_a_rolled_back_transaction_records_no_use(transactional_db, user, login_token):
    row = AuthToken.objects.get(user=user)
    stale_use(row)
    before = AuthToken.objects.get(pk=row.pk).last_used
    with pytest.raises(RuntimeError), transaction.atomic():
        assert tokens.authenticate_token(login_token).pk == row.pk
        raise RuntimeError("the view failed")
    assert AuthToken.objects.get(pk=row.pk).last_used == before


@pytest.mark.parametrize("in_transaction", [True, False])
def test_a_cached_token_whose_row_is_gone_fails_when_its_use_is_recorded(transactional_db, monkeypatch, user,
                                                                         login_token, in_transaction):
    """Recording use is also a check that the row still exists (a cached entry may outlive a
    deletion no revocation marked, such as raw SQL): inside a transaction too it is made at once,
    only the write waits for the commit."""
    row = AuthToken.objects.get(user=user)
    assert tokens.authenticate_token(login_token, use_cache=True).pk == row.pk  # now cached
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuthToken._meta.db_table} WHERE {AuthToken._meta.pk.column} = %s", [row.pk])
    later = clock.now() + auth_settings.LAST_USED_UPDATE_INTERVAL + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    with pytest.raises(InvalidToken), (transaction.atomic() if in_transaction else nullcontext()):
        tokens.authenticate_token(login_token, use_cache=True)
    with pytest.raises(InvalidToken):  # and the cached copy is gone
        tokens.authenticate_token(login_token, use_cache=True)


def test_the_async_view_serves_tokens_where_atomic_requests_is_on_once_marked_non_atomic(
        transactional_db, atomic_requests, user, login_token):
    """Django refuses ATOMIC_REQUESTS on async views; docs/graphql.md says how to serve it there."""
    kwargs = {"content_type": "application/json", "headers": auth_header(login_token)}
    body = json.dumps({"query": "{ me { username } }"})
    refused = async_to_sync(AsyncClient(raise_request_exception=False).post)("/graphql/async/", body, **kwargs)
    assert refused.status_code == 500
    served = async_to_sync(AsyncClient().post)("/graphql/async-non-atomic/", body, **kwargs)
    assert served.status_code == 200 and served.json()["data"]["me"] == {"username": user.username}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
def test_an_expired_token_deleted_inside_a_transaction_keeps_the_lock_order(transactional_db, monkeypatch):
    """Deleting an expired token on sight is a revocation too: under the user's lock. Inside a
    transaction it waits for the commit, so the request holds neither the row nor that lock: a
    transaction that deleted one and then locked the user (a login in the same request, say)
    deadlocked with a password change revoking that token, and one holding the user's lock
    deadlocked with a mutation locking an address next (a batch of a query and confirmEmail)."""
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    expired, current = tokens.issue_token(user), tokens.issue_token(user)
    AuthToken.objects.filter(pk=expired.instance.pk).update(expiry=clock.now() - timedelta(seconds=1))
    arrived = threading.Barrier(2, timeout=10)
    change_locked = threading.Event()
    lock = models.lock_user  # the first user lock taken is the change's: the login waits for change_locked
    monkeypatch.setattr(models, "lock_user", lambda *args: (lock(*args), change_locked.set())[0])

    def expired_then_login() -> str:
        with transaction.atomic():
            with pytest.raises(tokens.TokenExpired):
                tokens.authenticate_token(expired.token)
            arrived.wait()
            change_locked.wait(2)  # the change takes the user's lock now, if it can
            return tokens.issue_token(user, password_hash=user.password).token

    def change_password() -> int:
        session = tokens.authenticate_token(current.token)
        arrived.wait()
        return passwords.change_password(None, user, session, old_password=PASSWORD, new_password="an0ther-Passw0rd")

    login, change = run_concurrently(expired_then_login, change_password)
    # Inside the transaction the expired token's deletion waits for the commit and takes no lock
    # before it: the change went first, and the login then found the password changed.
    assert isinstance(login, InvalidCredentials) and isinstance(change, int), (login, change)
    assert tokens.is_live(current.token) and not AuthToken.objects.filter(pk=expired.instance.pk).exists()


def test_the_cached_copy_is_the_user_as_authenticated_not_as_the_view_left_it(transactional_db, monkeypatch, user,
                                                                             login_token, django_assert_num_queries):
    """Inside a transaction the copy with the new last_used is stored at once, as outside one:
    stored at commit it took whatever the view did to ``request.user`` (a permission cache, a
    field set and not saved, a password hash read by ``check_password``) to every process."""
    if not token_cache.enabled():
        pytest.skip("the token cache is off in this run")
    tokens.authenticate_token(login_token, use_cache=True)  # cached
    later = clock.now() + auth_settings.LAST_USED_UPDATE_INTERVAL + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)  # the cached copy's use is old enough to record again
    with transaction.atomic():
        request_user = tokens.authenticate_token(login_token, use_cache=True).user
        request_user.first_name = "not saved"
        request_user._perm_cache = {"auth.view_user"}
        assert request_user.check_password(PASSWORD)
    token_cache.forget_recent_hits()  # read the shared copy, as another process does
    with django_assert_num_queries(0):
        cached = tokens.authenticate_token(login_token, use_cache=True)
    assert cached.last_used == later  # the copy stored with the use
    assert cached.user.first_name == "" and not hasattr(cached.user, "_perm_cache")
    assert "password" in cached.user.get_deferred_fields()


def test_a_rotation_under_atomic_requests_records_the_use(transactional_db, atomic_requests, user, login_token):
    row = AuthToken.objects.get(user=user)
    stale_use(row)
    before = AuthToken.objects.get(pk=row.pk).last_used
    response = DjangoClient().put("/auth/token/", headers=auth_header(login_token))
    assert response.status_code == 200, response.content
    after = AuthToken.objects.get(pk=row.pk)
    assert after.digest != row.digest and after.last_used > before


@pytest.mark.parametrize("kind", ["rest", "rest-asgi", "graphql"])
def test_under_atomic_requests_an_expired_token_is_deleted_after_the_view(transactional_db, atomic_requests,
                                                                          monkeypatch, user, login_token, kind):
    """The first request after expiry says it expired, later ones that it is invalid, and
    token_expired goes out once (API.md §3), also where the request rolls back (DRF rolls back
    every error it answers): the middleware deletes the token once the view's transaction ended."""
    said = []
    signals.token_expired.connect(lambda **kw: said.append(kw["instance"].pk), weak=False, dispatch_uid="t-exp")
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    row = AuthToken.objects.get(user=user)

    def ask() -> str:
        if kind == "graphql":
            status, payload = graphql("{ sessions { id } }", login_token)
            assert status == 200 and payload["data"] is None, payload
            return payload["errors"][0]["extensions"]["code"]
        get = DjangoClient().get if kind == "rest" else async_to_sync(AsyncClient().get)
        response = get("/auth/token/", headers=auth_header(login_token))
        assert response.status_code == 401, response.content
        return {"Token has expired.": "token_expired", "Invalid token.": "invalid_token"}[response.json()["detail"]]

    try:
        assert ask() == "token_expired"
        assert not AuthToken.objects.filter(pk=row.pk).exists() and said == [row.pk]
        assert ask() == "invalid_token" and said == [row.pk]
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-exp")


def test_under_atomic_requests_an_expired_token_is_deleted_when_the_view_raises(transactional_db, atomic_requests,
                                                                                monkeypatch, settings, user,
                                                                                login_token):
    """With DEBUG_PROPAGATE_EXCEPTIONS the view's exception passes through the middleware: the
    deletion that waited for the end of the view happens all the same."""
    settings.DEBUG_PROPAGATE_EXCEPTIONS = True
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    with pytest.raises(RuntimeError, match="the view failed for $"):  # anonymous: the token expired
        DjangoClient().get("/broken/", headers=auth_header(login_token))
    assert not AuthToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("atomic", [False, True], ids=["autocommit", "atomic-requests"])
@pytest.mark.parametrize("kind", ["rest", "graphql"])
def test_a_failing_token_expired_receiver_changes_no_answer(transactional_db, monkeypatch, caplog, user,
                                                            login_token, atomic, kind):
    """The signal is sent while the request authenticates: a receiver that raises is logged
    (without the token), and the request still answers that the token expired, never a 500."""
    if atomic:
        monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", True)

    def failing_receiver(**kwargs):
        raise RuntimeError("the audit log is down")

    signals.token_expired.connect(failing_receiver, weak=False, dispatch_uid="t-exp-fails")
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    try:
        if kind == "rest":
            response = DjangoClient(raise_request_exception=False).get("/auth/token/", headers=auth_header(login_token))
            assert (response.status_code, response.json()) == (401, {"detail": "Token has expired."})
        else:
            status, payload = graphql("{ sessions { id } }", login_token)
            assert status == 200 and payload["errors"][0]["extensions"]["code"] == "token_expired", payload
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-exp-fails")
    assert not AuthToken.objects.filter(user=user).exists()
    [record] = [r for r in caplog.records if r.exc_info and "the audit log is down" in str(r.exc_info[1])]
    assert record.name == "django.dispatch" and login_token not in caplog.text


def test_a_transaction_around_the_middleware_defers_the_deletion_to_its_commit(transactional_db, monkeypatch, user,
                                                                              login_token):
    """A project's own transaction around the whole request (a custom middleware, a test): the
    deletion waits for its commit, and a rollback deletes and says nothing."""
    row = AuthToken.objects.get(user=user)
    said = []
    signals.token_expired.connect(lambda **kw: said.append(kw["instance"].pk), weak=False, dispatch_uid="t-exp")
    later = clock.now() + timedelta(days=1, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)

    def expired() -> bool:
        response = DjangoClient().get("/auth/token/", headers=auth_header(login_token))
        return (response.status_code, response.json()) == (401, {"detail": "Token has expired."})

    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            assert expired()
            raise RuntimeError("rolled back")
        assert AuthToken.objects.filter(pk=row.pk).exists() and said == []
        with transaction.atomic():
            assert expired() and AuthToken.objects.filter(pk=row.pk).exists()  # not before the commit
        assert not AuthToken.objects.filter(pk=row.pk).exists() and said == [row.pk]
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-exp")


def test_an_expired_token_refreshed_meanwhile_is_kept(transactional_db, monkeypatch, user, login_token):
    """The request read the row expired; a refresh committed before the request took the user's
    lock to delete it: the row is deleted only if it is still expired under that lock, and the
    request is served by the refreshed row (tests/test_core.py, test_cache.py: the other paths)."""
    row = AuthToken.objects.get(user=user)
    AuthToken.objects.filter(pk=row.pk).update(expiry=clock.now() - timedelta(seconds=1))
    lock = models.lock_user

    def refreshed_first(*args):
        AuthToken.objects.filter(pk=row.pk).update(expiry=clock.now() + timedelta(hours=1))  # another request
        return lock(*args)

    monkeypatch.setattr(models, "lock_user", refreshed_first)
    assert tokens.authenticate_token(login_token).expiry > clock.now()  # served: the token is live
    monkeypatch.setattr(models, "lock_user", lock)
    assert tokens.authenticate_token(login_token).pk == row.pk  # the refresh stands


def test_clear_expired_tokens_keeps_a_token_refreshed_after_it_was_read(transactional_db, monkeypatch, user,
                                                                         login_token):
    row = AuthToken.objects.get(user=user)
    AuthToken.objects.filter(pk=row.pk).update(expiry=clock.now() - timedelta(seconds=1))
    lock = models.lock_token_users

    def refreshed_first(batch):
        AuthToken.objects.filter(pk=row.pk).update(expiry=clock.now() + timedelta(hours=1))
        return lock(batch)

    monkeypatch.setattr(models, "lock_token_users", refreshed_first)
    assert tokens.clear_expired_tokens() == 0
    assert tokens.authenticate_token(login_token).pk == row.pk


@pytest.mark.parametrize("in_transaction", [True, False])
def test_last_used_never_moves_back(transactional_db, user, login_token, in_transaction):
    """A longer request that read the token earlier records its use after a later one did."""
    row = AuthToken.objects.get(user=user)
    seen = AuthToken.objects.get(pk=row.pk)
    seen.last_used = clock.now() - timedelta(days=1)  # as that request read it
    later = clock.now() + timedelta(seconds=10)
    AuthToken.objects.filter(pk=row.pk).update(last_used=later)  # the later request's use
    with transaction.atomic() if in_transaction else nullcontext():
        tokens.touch(seen, later - timedelta(seconds=5))
    assert AuthToken.objects.get(pk=row.pk).last_used == later


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
def test_an_expired_confirmation_link_deleted_inside_a_transaction_keeps_the_lock_order(transactional_db,
                                                                                       monkeypatch, settings):
    """Deleting an unusable link takes the user's lock first, as a deletion of the user (or a
    password change) removing the user's links does: a transaction that deleted one and then
    locked the user deadlocked with them."""
    from gql_authtoken import email_confirmation

    settings.GQL_AUTHTOKEN = {"REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"}}
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    link = email_confirmation.create_confirmation_token(user, "alice@new.example.com", purpose="email_change",
                                                        now=clock.now() - timedelta(days=30))
    deletion_locked = threading.Event()
    lock = models.lock_users  # the deletion's (receivers.on_user_deleting)
    monkeypatch.setattr(models, "lock_users", lambda *args: (lock(*args), deletion_locked.set())[0])
    arrived = threading.Barrier(2, timeout=10)

    def expired_link_then_user_lock() -> str:
        with transaction.atomic():
            with pytest.raises(email_confirmation.InvalidConfirmationToken):
                email_confirmation.consume_confirmation_token(link, now=clock.now())
            arrived.wait()
            deletion_locked.wait(2)  # the deletion takes the user's lock now, if it can
            tokens.issue_token(user)  # a login in the same request: it locks the user
        return "done"

    def delete_user() -> str:
        arrived.wait()
        User.objects.filter(pk=user.pk).delete()
        return "done"

    assert run_concurrently(expired_link_then_user_lock, delete_user) == ["done", "done"]
    assert not User.objects.filter(pk=user.pk).exists() and not AuthToken.objects.exists()


def test_inside_a_transaction_an_expired_token_is_deleted_at_commit_and_said_once(transactional_db, user,
                                                                                 login_token):
    row = AuthToken.objects.get(user=user)
    AuthToken.objects.filter(pk=row.pk).update(expiry=clock.now() - timedelta(seconds=1))
    invalidate_user_tokens(user)
    said = []
    signals.token_expired.connect(lambda **kw: said.append(kw["instance"].pk), weak=False, dispatch_uid="t-exp")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():  # rolled back: nothing deleted, nothing said
            with pytest.raises(tokens.TokenExpired):
                tokens.authenticate_token(login_token)
            raise RuntimeError("the view failed")
        assert AuthToken.objects.filter(pk=row.pk).exists() and said == []
        with transaction.atomic():
            with pytest.raises(tokens.TokenExpired):
                tokens.authenticate_token(login_token)
            assert AuthToken.objects.filter(pk=row.pk).exists()  # not before the commit
        assert not AuthToken.objects.filter(pk=row.pk).exists() and said == [row.pk]
    finally:
        signals.token_expired.disconnect(dispatch_uid="t-exp")
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(login_token)


def test_a_link_whose_address_changed_while_it_waited_for_the_lock_confirms_nothing(transactional_db,
                                                                                    monkeypatch, settings):
    """Staleness is checked again under the user's lock: a change of address that committed while
    the link waited makes it stale, as it would be a moment later."""
    from gql_authtoken import email_confirmation

    settings.GQL_AUTHTOKEN = {"REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"}}
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    email_confirmation.start_registration(user, now=clock.now())
    link = email_confirmation.create_confirmation_token(user, "alice@example.com", purpose="registration",
                                                        now=clock.now())
    lock = email_confirmation.lock_user

    def address_changed_first(*args):
        other = User.objects.get(pk=user.pk)  # another request's save commits while this one waits
        other.email = "mallory@example.com"
        other.save()
        return lock(*args)

    monkeypatch.setattr(email_confirmation, "lock_user", address_changed_first)
    with pytest.raises(email_confirmation.InvalidConfirmationToken):
        email_confirmation.consume_confirmation_token(link, now=clock.now())
    assert email_confirmation.is_pending_registration(user)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL")
@pytest.mark.parametrize("in_transaction", [True, False])
def test_a_link_resent_while_its_user_is_deleted_fails_quietly(transactional_db, settings, caplog, in_transaction):
    """The link is made under the user's lock: it waits for the deletion and then makes nothing,
    where its foreign key used to fail the commit (a 500 under ATOMIC_REQUESTS)."""
    from gql_authtoken import email_confirmation

    settings.GQL_AUTHTOKEN = {"REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"}}
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    outcome: dict = {}

    def resend() -> None:
        try:
            with transaction.atomic() if in_transaction else nullcontext():
                outcome["sent"] = email_confirmation.send_quietly(user)
        except Exception as error:
            outcome["sent"] = error
        finally:
            connections.close_all()

    with transaction.atomic():
        User.objects.filter(pk=user.pk).delete()
        thread = threading.Thread(target=resend)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # waiting for the deletion
    thread.join(10)
    assert outcome == {"sent": False} and not EmailConfirmationToken.objects.exists()
    assert not [record for record in caplog.records if record.levelname == "ERROR"]  # nothing went wrong


def test_a_resend_that_waited_for_the_confirmation_mails_nothing(transactional_db, monkeypatch, settings, mailoutbox):
    """Whether the registration is still pending is read under the user's lock, where the link is
    made: a confirmation that committed while the resend waited leaves nothing to resend."""
    from gql_authtoken import email_confirmation
    from gql_authtoken.accounts import registration

    settings.GQL_AUTHTOKEN = {"REGISTRATION_EMAIL_CONFIRM": True,
                              "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"}}
    user = User.objects.create_user("alice", "alice@example.com", PASSWORD)
    email_confirmation.start_registration(user, now=clock.now())
    lock = models.lock_user  # under email_confirmation._holding

    def confirmed_first(*args):
        email_confirmation.end_pending_registration(user)  # another request's confirmation commits
        return lock(*args)

    monkeypatch.setattr(models, "lock_user", confirmed_first)
    registration.resend_confirmation_email(None, "alice@example.com")
    assert mailoutbox == [] and not EmailConfirmationToken.objects.exists()
    monkeypatch.setattr(models, "lock_user", lock)
    email_confirmation.start_registration(user, now=clock.now())  # pending again: the resend mails
    registration.resend_confirmation_email(None, "alice@example.com")
    assert len(mailoutbox) == 1 and EmailConfirmationToken.objects.get().purpose == "registration"
