"""Subscriptions over a real WebSocket: the token travels in the connection_init payload."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gql_authtoken import services

from .conftest import free_port

SUBSCRIBE = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { countdown(start: 3) }"}}


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
def open_connection(url, payload):
    with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        yield ws


def messages(ws):
    while True:
        message = json.loads(ws.recv(timeout=5))
        yield message
        if message["type"] in ("complete", "error"):
            return


def test_subscription_sees_the_token_user(server, user):
    token = services.issue_token(user).token
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
    issued = services.issue_token(user)
    issued.instance.expiry = services.now() - timedelta(seconds=1)
    issued.instance.save()
    with open_connection(server, {"Authorization": f"Token {issued.token}"}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4403


def test_revoked_token_is_refused(server, user):
    issued = services.issue_token(user)
    services.logout(None, issued.instance)
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
