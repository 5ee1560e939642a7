"""Strawberry's GraphQL views, behind the middleware, answer 400, never 500, to a JSON body that is
not a GraphQL request."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from gql_authtoken.middleware import is_graphql_request_body


def post(path, body, content_type="application/json"):
    if "async" in path:
        return async_to_sync(AsyncClient().post)(path, body, content_type=content_type)
    return Client().post(path, body, content_type=content_type)


@pytest.mark.parametrize("body", ["null", "1", '"x"', "true", "1.5", "[1]", '[{"query": "{ me { id } }"}, 2]',
                                  "[null]", '[[]]'])
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/", "/graphql/batch/"])
def test_a_body_that_is_no_graphql_request_is_400(db, path, body):
    response = post(path, body)
    assert response.status_code == 400, (response.status_code, response.content)


@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/"])
def test_requests_still_work(db, path):
    response = post(path, json.dumps({"query": "{ me { id } }"}))
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}


def test_a_batch_still_works(db):
    response = post("/graphql/batch/", json.dumps([{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]))
    assert response.status_code == 200 and response.json() == [{"data": {"me": None}}] * 2


def test_the_rule():
    for body in [b'{"query": "{ me { id } }"}', b"  {", b"[]", b'[{"query": "x"}]', b"{not json", b"nul"]:
        assert is_graphql_request_body(body), body  # an object, a batch, or malformed: Strawberry answers
    for body in [b"null", b" 1", b'"x"', b"true", b"[1]", b"[null]", b"[[]]", b'[{"query": "x"}, 2]']:
        assert not is_graphql_request_body(body), body


def test_the_readme_wiring_is_strawberrys_own_view():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "from strawberry.django.views import AsyncGraphQLView" in readme
