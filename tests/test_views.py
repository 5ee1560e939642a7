"""Strawberry's GraphQL views, behind the middleware, answer 400, never 500, to a JSON body that is
not a GraphQL request; so do the package's REST views to JSON that DRF cannot read."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from gql_authtoken.middleware import graphql_body_problem
from gql_authtoken.models import AuthToken
from tests.conftest import LOGIN, PASSWORD


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
    for body in [b'{"query": "{ me { id } }"}', b"  {", b"[]", b'[{"query": "x"}]', b"{not json", b"nul", b"",
                 '{"query": "{ me { id } }", "variables": {"a": "é ✓ \U0001f600"}}'.encode()]:
        assert graphql_body_problem(body) is None, body  # an object, a batch, or malformed: Strawberry answers
    for body in [b"null", b" 1", b'"x"', b"true", b"[1]", b"[null]", b"[[]]", b'[{"query": "x"}, 2]']:
        assert graphql_body_problem(body) == "The request body must be a JSON object or a list of JSON objects."


QUERY = b'{"query": "{ me { id } }"'
UNREADABLE = {
    "a byte that is no UTF-8": b"\xff",
    "such a byte inside a string": QUERY[:-1] + b'\xff"}',
    "UTF-16 (JSON is UTF-8)": json.dumps({"query": "{ me { id } }"}).encode("utf-16"),
    "Latin-1": '{"query": "{ me { id } }", "variables": {"a": "é"}}'.encode("latin-1"),
    "a deep list": b"[" * 100_000,
    "a deep object": b'{"a":' * 100_000,
    "deep variables": QUERY + b', "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    "deep variables in a batch": b"[" + QUERY + b', "variables": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}]",
    "an integer of 5000 digits": QUERY + b', "variables": {"a": ' + b"1" * 5000 + b"}}",
    # The async view parses bytes with json.loads, which takes these; the sync view decodes UTF-8 first.
    **{f"{problem} behind a UTF-8 byte order mark": b"\xef\xbb\xbf" + body for problem, body in [
        ("an operation", QUERY + b"}"), ("null", b"null"), ("a number", b"1"),
        ("an operationName with a surrogate", QUERY + b', "operationName": "\\ud800"}'),
        ("deep variables", QUERY + b', "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"),
        ("an integer of 5000 digits", QUERY + b', "variables": {"a": ' + b"1" * 5000 + b"}}")]},
    **{f"{problem} in {encoding}": text.encode(encoding)
       for problem, text in [("an operation", QUERY.decode() + "}"), ("null", "null"),
                             ("an operationName with a surrogate", QUERY.decode() + ', "operationName": "\\ud800"}')]
       for encoding in ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-32"]},
    "a NUL byte": QUERY[:-1] + b'\x00"}',
}


@pytest.mark.parametrize("name", UNREADABLE)
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/", "/graphql/batch/"])
def test_a_body_strawberry_cannot_read_is_400_with_a_reason(db, path, name):
    response = post(path, UNREADABLE[name])
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.content.decode() == graphql_body_problem(UNREADABLE[name])


@pytest.mark.parametrize("body", [b"{not json", b""])
def test_malformed_json_is_still_strawberrys_own_400(db, body):
    response = post("/graphql/sync/", body)
    assert response.status_code == 400, response.content[:200]
    assert b"JSON" in response.content or not body  # Strawberry's message (an empty body: its "Unsupported...")


def test_the_readme_wiring_is_strawberrys_own_view():
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "from strawberry.django.views import AsyncGraphQLView" in readme


REST_PATHS = ["/auth/login/", "/auth/register/", "/auth/password/reset/", "/auth/password/reset/confirm/",
              "/auth/login", "/auth/password/change/", "/auth/email/change/"]


@pytest.mark.parametrize("name", UNREADABLE)
@pytest.mark.parametrize("path", REST_PATHS)
def test_a_json_body_drf_cannot_read_is_400_on_every_rest_endpoint(db, settings, user, login_token, path, name):
    settings.GQL_AUTHTOKEN = {"REGISTRATION_ENABLED": True}
    response = Client().post(path, UNREADABLE[name], content_type="application/json",
                             headers={"Authorization": f"Token {login_token}"})
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert "detail" in response.json()


@pytest.mark.parametrize("content_type", ["application/jsonx", "application/json-seq", "text/application/json",
                                          "Application/JSON", "application/json; charset=utf-8"])
@pytest.mark.parametrize("name", ["a byte that is no UTF-8", "a deep list", "an integer of 5000 digits"])
def test_every_content_type_strawberry_reads_as_json_is_checked(db, content_type, name):
    """Strawberry reads the body as JSON whenever the content type contains application/json."""
    for path in ("/graphql/sync/", "/graphql/async/", "/graphql/batch/"):
        response = post(path, UNREADABLE[name], content_type=content_type)
        assert response.status_code == 400, (path, response.status_code, response.content[:200])


@pytest.mark.parametrize("parameter", ["variables", "extensions"])
@pytest.mark.parametrize("value", ["[" * 100_000, "[" * 50_000 + "]" * 50_000, '{"a": ' + "9" * 5000 + "}"])
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/"])
def test_json_query_parameters_of_a_get_strawberry_cannot_read_are_400(db, path, parameter, value):
    get = async_to_sync(AsyncClient().get) if "async" in path else Client().get
    response = get(path, {"query": "{ me { id } }", parameter: value}, headers={"Accept": "application/json"})
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.content.decode().startswith(f"The {parameter} parameter is JSON that cannot be read")


def test_a_get_still_works(db):
    response = Client().get("/graphql/sync/", {"query": "{ me { id } }", "variables": '{"a": 1}'},
                            headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}


@pytest.mark.parametrize("field", ["operations", "map"])
@pytest.mark.parametrize("value", ["[" * 100_000, '{"a": ' + "9" * 5000 + "}"])
def test_the_json_fields_of_a_multipart_upload_strawberry_cannot_read_are_400(db, field, value):
    fields = {"operations": json.dumps({"query": "{ me { id } }"}), "map": "{}"}
    response = Client().post("/graphql/uploads/", {**fields, field: value})  # multipart/form-data
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.content.decode().startswith(f"The {field} parameter is JSON that cannot be read")


def test_a_multipart_request_still_works(db):
    response = Client().post("/graphql/uploads/", {"operations": json.dumps({"query": "{ me { id } }"}), "map": "{}"})
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}


@pytest.mark.parametrize("body", [
    '{"query": "{ me { id } }", "operationName": "\\ud800"}',
    '[{"query": "{ me { id } }", "operationName": "\\ud800"}]',
    '[{"query": "{ me { id } }"}, {"query": 5}]',
    '{"query": ["{ me { id } }"]}',
    '{"query": "{ me { id } }", "operationName": 5}',
    '[{"query": "{ me { id } }", "operationName": ["a"]}]',
    '[{"query": "{ me { id } }", "variables": [1]}]',
    '{"query": "{ me { id } }", "extensions": "x"}',
    # Strawberry's 400 for an unknown name echoes it: a NUL, a megabyte of text
    '{"query": "{ me { id } }", "operationName": "a\\u0000b"}',
    '{"query": "{ me { id } }", "operationName": "' + "é" * 1_000_000 + '"}',
    '{"query": "query Me { me { id } }", "operationName": "Me\\n"}',
])
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/", "/graphql/batch/"])
def test_operation_fields_strawberry_fails_on_are_400(db, path, body):
    response = post(path, body.encode())
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.content.decode().startswith("An operation's")
    assert len(response.content) < 200 and "\x00" not in response.content.decode()


@pytest.mark.parametrize("name", ["Me", None])
@pytest.mark.parametrize("path", ["/graphql/sync/", "/graphql/async/"])
def test_a_named_operation_still_works(db, path, name):
    response = post(path, json.dumps({"query": "query Me { me { id } }", "operationName": name}))
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}


@pytest.mark.parametrize("name", ["a\x00b", "my-op", ""])
def test_an_operation_name_over_get_is_the_same_rule(db, name):
    response = Client().get("/graphql/sync/", {"query": "{ me { id } }", "operationName": name})
    assert response.status_code == 400 and response.content.decode().startswith("An operation's operationName")


UPLOAD = {"operations": json.dumps({"query": "{ me { id } }", "variables": {"f": None}}),
          "map": '{"0": ["variables.f"]}'}
LIST_OF_ONE = json.dumps({"query": "{ me { id } }", "variables": {"f": [None]}})
BAD_UPLOADS = {
    "operations null": {"operations": "null"},
    "operations a number": {"operations": "1"},
    "map a number": {"map": "5"},
    "map a list": {"map": "[1]"},
    "map to a number": {"map": '{"0": [1]}'},
    "a path past a null": {"map": '{"0": ["variables.f.0"]}'},
    "a path past the end": {"operations": LIST_OF_ONE, "map": '{"0": ["variables.f.9"]}'},
    "a path with a name for an index": {"operations": LIST_OF_ONE, "map": '{"0": ["variables.f.x"]}'},
    "a batch path with a bad index": {"operations": json.dumps([{"query": "{ me { id } }", "variables": {"f": None}}]),
                                      "map": '{"0": ["5.variables.f"]}'},
    "a batch path with a name": {"operations": json.dumps([{"query": "{ me { id } }", "variables": {"f": None}}]),
                                 "map": '{"0": ["x.variables.f"]}'},
}


@pytest.mark.parametrize("name", BAD_UPLOADS)
def test_a_multipart_upload_strawberry_fails_on_is_400(db, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {**UPLOAD, **BAD_UPLOADS[name], "0": SimpleUploadedFile("a.txt", b"data")}
    response = Client().post("/graphql/uploads/", fields)
    assert response.status_code == 400, (response.status_code, response.content[:200])


def test_a_well_formed_upload_still_works(db):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = Client().post("/graphql/uploads/", {**UPLOAD, "0": SimpleUploadedFile("a.txt", b"data")})
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}


@pytest.mark.parametrize("operations", ["[" * 100_000, "null", json.dumps({"query": 5})])
def test_a_view_without_uploads_refuses_any_multipart_request_itself(db, operations):
    """Uploads are off by default: Strawberry refuses the request without reading it, so it is not checked."""
    response = Client().post("/graphql/sync/", {"operations": operations, "map": "{}"})
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert not response.content.decode().startswith(("The operations", "An operation", "The request body"))


BATCH_PATHS = ["/graphql/batch/", "/graphql/async-batch/"]


@pytest.mark.parametrize("bad", [
    {}, {"query": None}, {"query": ""}, {"query": "query A { me { id } }", "operationName": "B"},
    {"query": "query A { me { id } } query B { me { id } }", "operationName": "me"},  # a field, no operation
    {"query": "fragment F on Query { me { id } }"},  # no operation at all
])
@pytest.mark.parametrize("path", BATCH_PATHS)
def test_a_batch_strawberry_would_stop_halfway_is_refused_before_any_of_it_runs(user, path, bad):
    """Strawberry runs a batch in order and answers 400 on such an operation when it reaches it,
    after a login (or a logoutAll) before it was done."""
    login = {"query": LOGIN, "operationName": "Login", "variables": {"username": "alice", "password": PASSWORD}}
    response = post(path, json.dumps([login, bad]))
    assert response.status_code == 400 and response.content.decode().startswith(("An operation", "Each operation"))
    user.refresh_from_db()
    assert not AuthToken.objects.exists() and user.last_login is None


@pytest.mark.parametrize("path", BATCH_PATHS)
def test_a_batch_of_runnable_operations_still_runs(user, path):
    batch = [{"query": "query A { me { id } } query B { me { username } }", "operationName": "B"},
             {"query": "{ me { id } }"}, {"query": "{ me { id "}]  # a syntax error: that operation's own result
    response = post(path, json.dumps(batch))
    assert response.status_code == 200
    first, second, third = response.json()
    assert first == {"data": {"me": None}} and second == {"data": {"me": None}} and third["errors"]


@pytest.fixture
def parses(monkeypatch):
    """The keyword arguments of every graphql-core parse the middleware runs (it imports parse when it runs)."""
    import graphql

    calls, parse = [], graphql.parse
    monkeypatch.setattr(graphql, "parse", lambda source, **options: calls.append(options) or parse(source, **options))
    return calls


NAMES_A_FIELD = {"query": "query A { me { id } }", "operationName": "me"}  # in the query, yet no operation


@pytest.mark.parametrize(("path", "size", "answer"), [
    ("/graphql/sync/", 2, "Batching is not enabled"),
    ("/graphql/async/", 2, "Batching is not enabled"),
    ("/graphql/batch/", 51, "Too many operations"),
])
def test_a_list_the_view_refuses_itself_is_not_parsed(db, parses, path, size, answer):
    """Parsing costs seconds for a large body; Strawberry refuses these lists before running any."""
    response = post(path, json.dumps([NAMES_A_FIELD] * size))
    assert response.status_code == 400 and answer in response.content.decode()
    assert parses == []


def test_a_batch_is_parsed_under_the_schemas_token_limit(db, parses, monkeypatch):
    from tests.schema import limited_batch_schema

    built = []
    get_extensions = limited_batch_schema.get_extensions
    monkeypatch.setattr(limited_batch_schema, "get_extensions", lambda **kw: built.append(1) or get_extensions(**kw))
    response = post("/graphql/limited-batch/", json.dumps({"query": "{ me { id } }"}))  # one operation: no parse
    assert response.status_code == 200 and parses == [] and len(built) == 1  # Strawberry's own, for its run
    response = post("/graphql/limited-batch/", json.dumps([NAMES_A_FIELD]))
    assert response.status_code == 400 and "none of the batch ran" in response.content.decode()
    assert parses == [{"max_tokens": 100}]
    long = {"query": "query A { " + "me { id } " * 100 + "}", "operationName": "me"}  # over the limit
    response = post("/graphql/limited-batch/", json.dumps([long]))  # Strawberry's parse fails too: a result
    assert response.status_code == 200 and "more than 100 tokens" in response.json()[0]["errors"][0]["message"]
    assert parses == [{"max_tokens": 100}] * 2


def test_an_operation_name_a_get_query_does_not_contain_is_refused(db):
    response = Client().get("/graphql/sync/", {"query": "{ me { id } }", "operationName": "Z" * 3000})
    assert response.status_code == 400 and len(response.content) < 200
    response = Client().get("/graphql/sync/", {"query": "query Me { me { id } }", "operationName": "Me"})
    assert response.status_code == 200 and response.json() == {"data": {"me": None}}
