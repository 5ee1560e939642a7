"""GraphQL over a real WebSocket: the token travels in connection_init and is checked on every operation."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from django.contrib.auth import get_user_model
from django.core import mail
from django.db.backends.utils import CursorWrapper
from django.test import override_settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gql_authtoken import clock, tokens
from gql_authtoken.cache import invalidate_user_tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.graphql.channels import TokenAuthGraphQLWSConsumer
from gql_authtoken.models import AuthToken

from .conftest import LOGIN, PASSWORD, GraphQLClient, free_port, logged_text

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { countdown(start: 3) }"}}
ME = "{ me { username } }"
TICKS = "subscription { ticks }"
USER_AGENT = "gql-authtoken-tests/1.0"


@pytest.fixture
def server(transactional_db):
    """The test project's ASGI app served by uvicorn on a free loopback port."""
    from tests.asgi import application

    port = free_port()
    config = uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"ws://127.0.0.1:{port}/graphql/"
    server.should_exit = True
    thread.join(timeout=10)


@contextlib.contextmanager
def open_connection(url, payload, *, protocol=TRANSPORT_WS, **options):
    with connect(url, subprotocols=[protocol], open_timeout=5, user_agent_header=USER_AGENT, **options) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws


@contextlib.contextmanager
def connected(url, token=None, *, protocol=TRANSPORT_WS, **options):
    """An acknowledged connection, with ``token`` (None: anonymous)."""
    payload = {"Authorization": f"Token {token}"} if token else {}
    with open_connection(url, payload, protocol=protocol, **options) as ws:
        assert receive(ws)["type"] == "connection_ack"
        yield ws


def receive(ws, timeout=5):
    message = json.loads(ws.recv(timeout=timeout))
    while message["type"] == "ka":  # the legacy protocol's keep-alive
        message = json.loads(ws.recv(timeout=timeout))
    return message


def messages(ws):
    while True:
        message = receive(ws)
        yield message
        if message["type"] in ("complete", "error"):
            return


def subscribe(ws, query, variables=None, *, id="1"):
    ws.send(json.dumps({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}))


def execute(ws, query, variables=None, *, id="1"):
    """The one result of a query or mutation over graphql-transport-ws."""
    subscribe(ws, query, variables, id=id)
    [result] = [m["payload"] for m in messages(ws) if m["type"] == "next"]
    return result


def close_of(ws, timeout=5):
    """``(code, reason)`` of the server's close; fails if a GraphQL message comes first."""
    with pytest.raises(ConnectionClosed) as closed:
        message = ws.recv(timeout=timeout)
        pytest.fail(f"expected the socket to close, got {message}")
    return closed.value.rcvd.code, closed.value.rcvd.reason


# --- connecting ----------------------------------------------------------------------------


def test_subscription_sees_the_token_user(server, user):
    token = tokens.issue_token(user).token
    with open_connection(server, {"Authorization": f"Token {token}"}) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
        ws.send(json.dumps(SUBSCRIBE))
        received = [m["payload"]["data"]["countdown"] for m in messages(ws) if m["type"] == "next"]
    assert received == ["alice: 3", "alice: 2", "alice: 1"]


@pytest.mark.parametrize("header", ["Token not-a-token", "Token", "Bearer a b"])
def test_bad_token_is_refused_with_the_protocol_close_code(server, user, header):
    with open_connection(server, {"Authorization": header}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4403


def test_expired_token_is_refused(server, user):
    issued = tokens.issue_token(user)
    issued.instance.expiry = clock.now() - timedelta(seconds=1)
    issued.instance.save()
    with open_connection(server, {"Authorization": f"Token {issued.token}"}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4403


def test_revoked_token_is_refused(server, user):
    issued = tokens.issue_token(user)
    tokens.logout(None, issued.instance)
    with open_connection(server, {"Authorization": f"Token {issued.token}"}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4403


def test_without_a_token_the_subscription_needs_a_user(server, user):
    with open_connection(server, {}) as ws:
        assert json.loads(ws.recv(timeout=5)) == {"type": "connection_ack"}
        ws.send(json.dumps(SUBSCRIBE))
        [message] = [m for m in messages(ws) if m["type"] in ("next", "error")]
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "not_authenticated"


@pytest.mark.parametrize("key", ["authorization", "AUTHORIZATION", "AuThOrIzAtIoN"])
def test_the_authorization_key_matches_in_any_case(server, user, key):
    token = tokens.issue_token(user).token
    with open_connection(server, {key: f"Token {token}"}) as ws:
        assert receive(ws)["type"] == "connection_ack"
        assert execute(ws, ME) == {"data": {"me": {"username": "alice"}}}


def test_two_authorization_keys_differing_in_case_are_refused(server, user, other_user):
    alice, bob = tokens.issue_token(user).token, tokens.issue_token(other_user).token
    with open_connection(server, {"Authorization": f"Token {alice}", "authorization": f"Token {bob}"}) as ws:
        assert close_of(ws)[0] == 4403


def test_a_valid_token_keeps_working_over_many_operations(server, user):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        for number in range(25):
            assert execute(ws, ME, id=str(number)) == {"data": {"me": {"username": "alice"}}}
        assert len(execute(ws, "{ sessions { id } }")["data"]["sessions"]) == 1
        subscribe(ws, "subscription { countdown(start: 2) }", id="last")
        assert [m["payload"]["data"] for m in messages(ws) if m["type"] == "next"] == [
            {"countdown": "alice: 2"}, {"countdown": "alice: 1"}
        ]


def sql_statements(monkeypatch) -> list[str]:
    """Every SQL statement this process runs from now on, in any thread (the server's included)."""
    statements: list[str] = []
    original = CursorWrapper._execute_with_wrappers

    def counting(self, sql, params, many, executor):
        statements.append(sql)
        return original(self, sql, params, many, executor)

    monkeypatch.setattr(CursorWrapper, "_execute_with_wrappers", counting)
    return statements


def test_the_check_before_each_operation_costs_no_query_on_a_cache_hit(server, user, monkeypatch):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:  # connection_init's lookup fills the cache
        statements = sql_statements(monkeypatch)
        for number in range(5):
            assert execute(ws, ME, id=str(number))["data"]["me"]["username"] == "alice"
        checks_only = list(statements)
        execute(ws, "{ sessions { id } }", id="sessions")  # a query the server must run: the count sees it
        assert len(statements) > len(checks_only)
    if os.environ.get("REDIS_URL"):
        assert checks_only == []
    else:  # a process-local cache may be bypassed: then one lookup per operation
        assert len(checks_only) <= 5, checks_only


@override_settings(GQL_AUTHTOKEN={"TOKEN_CACHE_TIMEOUT": 0})
def test_without_the_cache_a_query_costs_one_lookup(server, user, monkeypatch):
    """A query or mutation is checked once, before it runs; its one result needs no second check."""
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        statements = sql_statements(monkeypatch)
        for number in range(5):
            assert execute(ws, ME, id=str(number))["data"]["me"]["username"] == "alice"
    assert len(statements) == 5, statements


# --- revocation on an open socket ------------------------------------------------------------


def logout_over_http(user, token):
    result = GraphQLClient("sync")("mutation { logout { __typename } }", token=token)
    assert result["data"]["logout"]["__typename"] == "LogoutResult"


def logout_all(user, token):
    tokens.logout_all(None, user)


def change_password(user, token):
    user.set_password("a brand new passphrase 99")
    user.save()


def deactivate(user, token):
    user.is_active = False
    user.save()


def delete_user(user, token):
    user.delete()


REVOCATIONS = [logout_over_http, logout_all, change_password, deactivate, delete_user]
OPERATIONS = {
    "me": ME,
    "sessions": "{ sessions { id } }",
    "logoutAll": "mutation { logoutAll { __typename } }",
    "subscription": "subscription { countdown(start: 3) }",
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("revoke", REVOCATIONS)
def test_after_revocation_the_next_operation_closes_the_socket(server, user, revoke, operation):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        assert execute(ws, ME) == {"data": {"me": {"username": "alice"}}}
        revoke(user, token)
        subscribe(ws, OPERATIONS[operation], id="2")
        assert close_of(ws) == (4403, "invalid_token")


def test_logout_all_on_a_revoked_socket_leaves_the_new_sessions_alone(server, user):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        logout_over_http(user, token)
        fresh = tokens.issue_token(user)  # the user logs in again elsewhere
        subscribe(ws, "mutation { logoutAll { __typename } }")
        assert close_of(ws) == (4403, "invalid_token")
    assert tokens.authenticate_token(fresh.token).pk == fresh.instance.pk


def test_an_expired_token_closes_the_socket_with_token_expired(server, user):
    issued = tokens.issue_token(user)
    with connected(server, issued.token) as ws:
        AuthToken.objects.filter(pk=issued.instance.pk).update(expiry=clock.now() - timedelta(seconds=1))
        invalidate_user_tokens(user)  # the documented call after a bulk update
        subscribe(ws, ME)
        assert close_of(ws) == (4403, "token_expired")


@pytest.mark.parametrize("revoke", [logout_over_http, deactivate])
def test_a_running_subscription_stops_at_its_next_event(server, user, revoke):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        subscribe(ws, TICKS)
        assert [receive(ws)["payload"]["data"]["ticks"] for _ in range(2)] == [0, 1]
        revoke(user, token)
        revoked_at = time.monotonic()
        late = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):  # bounded: a regression fails here instead of streaming on
                late.append(receive(ws))
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "invalid_token")
    assert time.monotonic() - revoked_at < 2
    assert len(late) <= 1, late  # at most the event that was already on its way


@pytest.fixture
def short_recheck(monkeypatch):
    monkeypatch.setattr(TokenAuthGraphQLWSConsumer, "token_recheck_interval", 0.3)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_an_idle_connection_is_closed_by_the_periodic_check(server, user, short_recheck, protocol):
    token = tokens.issue_token(user).token
    with connected(server, token, protocol=protocol) as ws:
        time.sleep(0.5)  # checks pass while the token is good
        logout_all(user, token)
        revoked_at = time.monotonic()
        assert close_of(ws) == (4403, "invalid_token")
    assert time.monotonic() - revoked_at < 2


# --- the legacy graphql-ws protocol (subscriptions only) ------------------------------------


def start(ws, query, *, id="1"):
    ws.send(json.dumps({"id": id, "type": "start", "payload": {"query": query}}))


def test_legacy_protocol_streams_and_refuses_a_start_after_revocation(server, user):
    token = tokens.issue_token(user).token
    with connected(server, token, protocol=LEGACY_WS) as ws:
        start(ws, "subscription { countdown(start: 2) }")
        data = [m["payload"]["data"]["countdown"] for m in messages(ws) if m["type"] == "data"]
        assert data == ["alice: 2", "alice: 1"]
        logout_all(user, token)
        start(ws, "subscription { countdown(start: 2) }", id="2")
        assert close_of(ws) == (4403, "invalid_token")


def test_legacy_protocol_stops_a_running_subscription(server, user):
    token = tokens.issue_token(user).token
    with connected(server, token, protocol=LEGACY_WS) as ws:
        start(ws, TICKS)
        assert receive(ws)["payload"]["data"] == {"ticks": 0}
        logout_all(user, token)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                receive(ws)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "invalid_token")


@pytest.mark.parametrize("operation", ['mutation { login(username: "alice", password: "x") { __typename } }',
                                       "{ me { username } }"])
def test_legacy_protocol_says_it_runs_subscriptions_only(server, user, operation):
    """Strawberry's graphql-ws carries subscriptions only: a query or a mutation there is the
    client's mistake, answered in words, not a masked server error."""
    with connected(server, protocol=LEGACY_WS) as ws:
        start(ws, operation)
        answer = receive(ws)
    assert "are not allowed" in json.dumps(answer) and "Unexpected error" not in json.dumps(answer)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_a_second_connection_init_cannot_swap_the_identity(server, user, other_user, protocol):
    """The legacy protocol accepts any number of connection_init messages: one with
    another token must not keep the first user's subscription alive after revocation."""
    token, own = tokens.issue_token(user).token, tokens.issue_token(other_user).token
    with connected(server, token, protocol=protocol) as ws:
        if protocol == LEGACY_WS:
            start(ws, TICKS)
            assert receive(ws)["payload"]["data"] == {"ticks": 0}
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Token {own}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(20):
                receive(ws)
    assert closed.value.rcvd.code == 4429


def test_a_closed_socket_leaves_no_token_check_behind(server, user, short_recheck, monkeypatch):
    checks = []
    real = tokens.authenticate_digest
    monkeypatch.setattr(tokens, "authenticate_digest", lambda *a, **k: checks.append(1) or real(*a, **k))
    token = tokens.issue_token(user).token
    with connected(server, token, protocol=LEGACY_WS) as ws:
        # The first repeated connection_init closes the socket (4429); a later send may meet that close.
        with contextlib.suppress(ConnectionClosed):
            for _ in range(3):
                ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Token {token}"}}))
    time.sleep(0.5)
    count = len(checks)
    time.sleep(1.0)  # three re-check intervals
    assert len(checks) == count


def test_a_clients_rate_counts_every_operation_on_a_socket(server, user):
    from gql_authtoken.models import Client

    limited = Client.objects.create(name="limited", token_ttl=None, throttle_rate="3/min")
    token = tokens.issue_token(user, client=limited).token
    with connected(server, token) as ws:
        answers = [execute(ws, "{ sessions { id } }", id=str(n)) for n in range(5)]
    codes = [(a.get("errors") or [{}])[0].get("extensions", {}).get("code") for a in answers]
    assert codes == [None, None, None, "throttled", "throttled"]


def test_a_page_on_another_origin_cannot_open_a_socket(server, user):
    """Browsers apply no CORS to WebSocket handshakes; Strawberry refuses foreign origins
    (``allowed_origins``), so no other site can drive mutations from its visitors' browsers."""
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus):
        with connect(server, subprotocols=[TRANSPORT_WS], open_timeout=5, origin="https://evil.example"):
            pass


@pytest.mark.parametrize("when", ["operation", "connect"])
def test_a_failing_check_keeps_the_token_out_of_error_reports(server, user, monkeypatch, when):
    """The database down when the token is checked: the socket closes with 1011 (at connect it
    used to stay open, never answered), and the report holds no token."""
    from django.views.debug import ExceptionReporter

    token = tokens.issue_token(user).token
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    def down(*args, **kwargs):
        raise ConnectionError("database unreachable")

    handler = Keep(level=logging.ERROR)
    logging.getLogger("gql_authtoken").addHandler(handler)
    try:
        if when == "connect":
            monkeypatch.setattr(tokens, "authenticate_digest", down)
            with open_connection(server, {"Authorization": f"Token {token}"}) as ws:
                assert close_of(ws)[0] == 1011
        else:
            with connected(server, token) as ws:
                monkeypatch.setattr(tokens, "authenticate_digest", down)
                subscribe(ws, ME)
                assert close_of(ws)[0] == 1011
    finally:
        logging.getLogger("gql_authtoken").removeHandler(handler)
    [record] = [r for r in records if r.exc_info]
    report = ExceptionReporter(None, *record.exc_info, is_email=True).get_traceback_html()
    assert "database unreachable" in report and token not in report


# --- mutations over WebSocket -------------------------------------------------------------


def test_login_over_an_anonymous_socket_records_the_sockets_ip_and_user_agent(server, user):
    with connected(server) as ws:
        variables = {"username": "alice", "password": PASSWORD, "client": None}
        result = execute(ws, LOGIN, variables)["data"]["login"]
    assert result["__typename"] == "LoginResult"
    assert result["session"]["ipAddress"] == "127.0.0.1"
    assert result["session"]["userAgent"] == USER_AGENT
    assert tokens.authenticate_token(result["token"]).user == user


@override_settings(GQL_AUTHTOKEN={"CLIENT_IP_HEADER": "HTTP_X_REAL_IP"})
def test_login_over_a_socket_reads_the_client_ip_header(server, user):
    with connected(server, additional_headers={"X-Real-IP": "203.0.113.7"}) as ws:
        variables = {"username": "alice", "password": PASSWORD, "client": None}
        result = execute(ws, LOGIN, variables)["data"]["login"]
    assert result["session"]["ipAddress"] == "203.0.113.7"


CONFIRMING = {
    "REGISTRATION_ENABLED": True,
    "REGISTRATION_EMAIL_CONFIRM": True,
    "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"},
}


@override_settings(GQL_AUTHTOKEN=CONFIRMING)
def test_registration_mutations_over_an_anonymous_socket(server):
    with connected(server) as ws:
        register = execute(ws, """mutation { register(username: "carol", password: "a-Strong-passphrase-42",
            email: "carol@example.com") { ... on RegisterResult { success emailConfirmationRequired } } }""")
        assert register["data"]["register"] == {"success": True, "emailConfirmationRequired": True}
        resend = execute(ws, 'mutation { resendConfirmationEmail(email: "carol@example.com") '
                             "{ ... on ResendResult { success } } }", id="2")
        assert resend["data"]["resendConfirmationEmail"] == {"success": True}
        link = re.search(r"/auth/register/confirm/([^/\s]+)/", mail.outbox[-1].body).group(1)
        confirm = execute(ws, "mutation Confirm($token: String!) { confirmEmail(token: $token) "
                              "{ ... on ConfirmEmailResult { success user { username } } } }", {"token": link}, id="3")
        assert confirm["data"]["confirmEmail"] == {"success": True, "user": {"username": "carol"}}


def test_refresh_then_logout_over_an_authenticated_socket(server, user):
    token = tokens.issue_token(user).token
    with connected(server, token) as ws:
        refresh = execute(ws, "mutation { refresh { ... on RefreshResult { expiry token } } }")
        assert refresh["data"]["refresh"]["expiry"] and refresh["data"]["refresh"]["token"] is None
        logout = execute(ws, "mutation { logout { ... on LogoutResult { revokedSessions } } }", id="2")
        assert logout["data"]["logout"] == {"revokedSessions": 1}
        subscribe(ws, ME, id="3")  # its token is gone now
        assert close_of(ws) == (4403, "invalid_token")


@override_settings(GQL_AUTHTOKEN={"PASSWORD_RESET_URL": "https://app.example.com/reset/{token}",
                                  "ACCOUNT_THROTTLE_RATE": "4/hour"})
def test_password_reset_over_an_anonymous_socket_and_its_throttle(server, user):
    old = tokens.issue_token(user).token
    with connected(server) as ws:
        send = ('mutation { sendPasswordResetEmail(email: "ALICE@example.com") '
                "{ ... on SendPasswordResetEmailResult { success } } }")
        assert execute(ws, send)["data"]["sendPasswordResetEmail"] == {"success": True}
        link = re.search(r"https://app\.example\.com/reset/(\S+)", mail.outbox[-1].body).group(1)
        reset = ("mutation R($t: String!) { resetPassword(token: $t, newPassword: \"a-Strong-new-passphrase-42\") "
                 "{ __typename ... on ResetPasswordResult { revokedSessions } "
                 "... on OperationInfo { messages { code } } } }")
        assert execute(ws, reset, {"t": link}, id="2")["data"]["resetPassword"] == {
            "__typename": "ResetPasswordResult", "revokedSessions": 1}
        assert execute(ws, reset, {"t": link}, id="3")["data"]["resetPassword"] == {
            "__typename": "OperationInfo", "messages": [{"code": "invalid_reset_token"}]}
        # Counted per call, per operation: the socket's IP may ask twice for one address (half its bucket).
        assert execute(ws, send, id="4")["data"]["sendPasswordResetEmail"] == {"success": True}
        throttled = execute(ws, send.replace("{ success }", "{ success } ... on OperationInfo { messages { code } }"),
                            id="5")["data"]["sendPasswordResetEmail"]
        assert throttled == {"messages": [{"code": "throttled"}]}
    assert len(mail.outbox) == 2
    user.refresh_from_db()
    assert user.check_password("a-Strong-new-passphrase-42")
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(old)  # the reset revoked every session


SECRET = "hunter2-never-logged"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('mutation { broken(password: "%s") }' % SECRET, None),
        ("mutation Broken($password: String!) { broken(password: $password) }", {"password": SECRET}),
    ],
)
def test_an_unexpected_error_is_masked_and_logged_without_the_operation(server, db, caplog, query, variables):
    caplog.set_level(logging.DEBUG)
    with connected(server) as ws:
        [error] = execute(ws, query, variables)["errors"]
    assert error["message"] == "Unexpected error."
    logged = logged_text(caplog.records)
    assert "Unexpected RuntimeError in GraphQL field broken" in logged
    assert SECRET not in logged


@override_settings(GQL_AUTHTOKEN={"AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False}})
def test_a_browser_app_subscribes_with_its_auth_cookie(server, user, short_recheck):
    """API.md §11: the app never holds the token; the handshake's cookie authenticates the socket,
    a payload token wins over it, a revoked one closes it, and a dead cookie is refused."""
    token = tokens.issue_token(user).token
    cookie = {"Cookie": f"authtoken={token}"}
    with connected(server, additional_headers=cookie) as ws:
        assert execute(ws, "{ me { username } }")["data"]["me"] == {"username": "alice"}
    other = get_user_model().objects.create_user("bob", "bob@example.com", PASSWORD)
    with connected(server, tokens.issue_token(other).token, additional_headers=cookie) as ws:
        assert execute(ws, "{ me { username } }")["data"]["me"] == {"username": "bob"}
    with connected(server, additional_headers=cookie) as ws:
        logout_all(user, token)
        assert close_of(ws) == (4403, "invalid_token")
    with open_connection(server, {}, additional_headers={"Cookie": "authtoken=not-a-live-token"}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4403


def test_the_cookie_counts_only_with_auth_cookie_set(server, user):
    token = tokens.issue_token(user).token
    with connected(server, additional_headers={"Cookie": f"authtoken={token}"}) as ws:
        assert execute(ws, "{ me { username } }")["data"]["me"] is None


# --- messages Python's JSON parser cannot read -------------------------------------------------

UNREADABLE_MESSAGES = {
    "a deep list": "[" * 100_000,
    "deep variables": '{"id": "1", "type": "subscribe", "payload": {"query": "{ me { username } }", "variables": '
                      '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}}}",
    "an integer of 5000 digits": '{"type": "ping", "payload": {"a": ' + "1" * 5000 + "}}",
}


@pytest.mark.parametrize("name", UNREADABLE_MESSAGES)
def test_an_unreadable_message_closes_as_malformed_json_does(server, user, name):
    """graphql-transport-ws: 4400, as Strawberry closes on malformed JSON, never an unhandled error."""
    with connected(server, tokens.issue_token(user).token) as ws:
        ws.send(UNREADABLE_MESSAGES[name])
        assert close_of(ws) == (4400, "WebSocket message must be valid JSON")


@pytest.mark.parametrize("name", UNREADABLE_MESSAGES)
def test_the_legacy_protocol_ignores_an_unreadable_message_as_malformed_json(server, user, name):
    with connected(server, tokens.issue_token(user).token, protocol=LEGACY_WS) as ws:
        ws.send(UNREADABLE_MESSAGES[name].replace('"subscribe"', '"start"'))
        start(ws, "subscription { countdown(start: 1) }")
        data = [m["payload"]["data"]["countdown"] for m in messages(ws) if m["type"] == "data"]
        assert data == ["alice: 1"]  # the connection goes on


def _no_error_logged(caplog):
    return [record.getMessage()[:80] for record in caplog.records if record.levelno >= logging.ERROR]


NOT_MESSAGES = {
    "null": "null", "a number": "1", "a string": '"subscribe"', "a list": "[]",
    "a list payload": '{"id": "1", "type": "subscribe", "payload": [1]}',
    "an id that is a list": '{"id": ["a"], "type": "subscribe", "payload": {"query": "{ me { username } }"}}',
    "an id that is an object": '{"id": {"a": 1}, "type": "subscribe", "payload": {"query": "{ me { username } }"}}',
    "a lone surrogate in type": '{"type": "\\ud800"}',
    "no payload": '{"id": "1", "type": "subscribe"}',
    "no id": '{"type": "complete"}',
    "a query that is a number": '{"id": "1", "type": "subscribe", "payload": {"query": 5}}',
    "variables that are a list": '{"id": "1", "type": "subscribe", "payload": {"query": "{ me { username } }", '
                                 '"variables": [1]}}',
}


@pytest.mark.parametrize("name", NOT_MESSAGES)
def test_a_message_of_no_protocol_closes_with_4400_and_logs_nothing(server, user, name, caplog):
    with connected(server, tokens.issue_token(user).token) as ws:
        ws.send(NOT_MESSAGES[name])
        assert close_of(ws) == (4400, "WebSocket message must be valid JSON")
    assert _no_error_logged(caplog) == []


@pytest.mark.parametrize("name", NOT_MESSAGES)
def test_the_legacy_protocol_ignores_a_message_of_no_protocol(server, user, name, caplog):
    with connected(server, tokens.issue_token(user).token, protocol=LEGACY_WS) as ws:
        ws.send(NOT_MESSAGES[name].replace('"subscribe"', '"start"').replace('"complete"', '"stop"'))
        start(ws, "subscription { countdown(start: 1) }", id="ok")
        data = [m["payload"]["data"]["countdown"] for m in messages(ws) if m["type"] == "data"]
        assert data == ["alice: 1"]
    assert _no_error_logged(caplog) == []


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_an_operation_sent_right_after_a_refused_token_closes_once(server, user, protocol, caplog):
    """Strawberry would close the socket a second time (an ASGI error) for the operation that follows."""
    with open_connection(server, {"Authorization": "Token nosuchtoken"}, protocol=protocol) as ws:
        ws.send(json.dumps({"id": "1", "type": "subscribe" if protocol == TRANSPORT_WS else "start",
                            "payload": {"query": ME}}))
        with pytest.raises(ConnectionClosed):
            for _ in range(5):
                ws.recv(timeout=5)
    time.sleep(0.2)
    assert _no_error_logged(caplog) == []


@pytest.mark.parametrize("message", [
    {"type": "x" * 300},
    {"type": "é" * 100},
    {"id": "1", "type": "subscribe", "payload": {"query": ME, "operationName": "N" * 300}},
])
def test_a_close_reason_made_of_client_text_fits_a_close_frame(server, user, message, caplog):
    """Strawberry puts the unknown type or operation name in the reason; a frame carries 123 bytes."""
    with connected(server, tokens.issue_token(user).token) as ws:
        ws.send(json.dumps(message))
        code, reason = close_of(ws)
    assert code == 4400 and 0 < len(reason.encode()) <= 123
    assert _no_error_logged(caplog) == []


@pytest.mark.parametrize("name", ['"\\ud800"', '"a\\u0000b"', '"my-op"', '""', '"Me\\n"'])
def test_an_operation_name_that_is_no_graphql_name_is_no_message(server, user, name, caplog):
    """The HTTP rule (inputs.graphql_operation_problem): no such name can name an operation."""
    with connected(server, tokens.issue_token(user).token) as ws:
        ws.send('{"id": "1", "type": "subscribe", "payload": {"query": "{ me { username } }", '
                f'"operationName": {name}}}}}')
        assert close_of(ws) == (4400, "WebSocket message must be valid JSON")
    assert _no_error_logged(caplog) == []


def test_a_client_that_leaves_during_many_sends_logs_no_error(server, user, caplog):
    with connected(server, tokens.issue_token(user).token) as ws:
        for index in range(300):
            subscribe(ws, TICKS, id=str(index))
    time.sleep(1)
    assert _no_error_logged(caplog) == []
