"""The example project as a reader of the README meets it: its own fields over HTTP and WebSocket."""

from __future__ import annotations

import json

import pytest
from websockets.sync.client import connect

from .conftest import example_manage, example_server, http_json


@pytest.fixture(scope="module")
def example():
    with example_server() as port:
        yield port


def test_the_notes_work_over_http_and_over_a_websocket(example):
    status, body = http_json(example, "/auth/login/", form={"username": "demo", "password": "demo-password"})
    assert status == 200
    token = body["token"]
    status, body = http_json(example, "/graphql/", token,
                             json_body={"query": 'mutation { addNote(text: "over HTTP") '
                                                 '{ ... on NoteType { text } } }'})
    assert (status, body["data"]["addNote"]) == (200, {"text": "over HTTP"})
    with connect(f"ws://127.0.0.1:{example}/graphql/", subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Token {token}"}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        operations = [
            'mutation { addNote(text: "over WebSocket") { ... on NoteType { text } } }',
            "{ myNotes { text } }",
            "subscription { myNoteCount(times: 1) }",
        ]
        results = []
        for number, query in enumerate(operations):
            ws.send(json.dumps({"id": str(number), "type": "subscribe", "payload": {"query": query}}))
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            results.append(message["payload"]["data"])
            assert json.loads(ws.recv(timeout=10))["type"] == "complete"
    assert results[0] == {"addNote": {"text": "over WebSocket"}}
    assert sorted(note["text"] for note in results[1]["myNotes"]) == ["over HTTP", "over WebSocket"]
    assert results[2] == {"myNoteCount": 2}


def test_running_make_example_again_keeps_the_demo_s_sessions(example):
    """brk83: ``demo_user`` (run by every ``make example``) set the demo password again: a password
    change, which ended every session of the demo user."""
    status, body = http_json(example, "/auth/login/", form={"username": "demo", "password": "demo-password"})
    assert status == 200
    example_manage(example, "demo_user")
    assert http_json(example, "/auth/token/", body["token"])[0] == 200
