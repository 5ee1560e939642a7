"""Every string argument is checked once, in the core (API.md §5 "Input").

NUL, unpaired surrogates and overlong values get each operation's normal
answer, the same through GraphQL (sync and async views) and REST: never a
top-level GraphQL error, never a 5xx, nothing written. A table of known bad
values first, then a Hypothesis property over arbitrary text.

GraphQL variables travel as ``json.dumps`` writes them (``ensure_ascii``), so
a lone surrogate arrives as the ``"\\ud800"`` escape a client can send; REST
bodies are sent the same way.
"""

from __future__ import annotations

import contextlib
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.test import Client as DjangoClient
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gql_authtoken import inputs, login, tokens
from gql_authtoken.models import AuthToken, Client, EmailConfirmationToken, PendingRegistration

from .conftest import PASSWORD, GraphQLClient

User = get_user_model()
GOOD_PASSWORD = "a-Strong-passphrase-42"
SETTINGS = {
    "REGISTRATION_ENABLED": True,
    "REGISTRATION_EMAIL_CONFIRM": True,
    "REGISTRATION_EMAIL": {"BASE_URL": "https://api.example.com"},
    "PASSWORD_RESET_URL": "https://app.example.com/reset/{token}",
}


# --- one call of each operation, through each adapter, as the answer a client reads -----------


def answer_item(field: str | None, code: str) -> str:
    """``code``, or ``field:code`` for a field error (REST also names the field of
    ``unknown_client`` and calls credentials ``non_field_errors``; GraphQL does neither)."""
    if not field or field == "non_field_errors" or code == "unknown_client":
        return code
    return f"{field}:{code}"


@dataclass(frozen=True)
class Operation:
    """A GraphQL mutation field with string arguments, and its REST request (None: GraphQL only)."""

    field: str
    variables: dict[str, str]  # argument -> GraphQL type
    good: dict[str, str]  # valid values; a test replaces one of them
    rest: Callable[[dict[str, str], str], tuple[str, ...]] | None

    def graphql(self, kind: str, values: dict[str, str], token: str) -> tuple[str, ...]:
        definitions = ", ".join(f"${name}: {type_}" for name, type_ in self.variables.items())
        arguments = ", ".join(f"{name}: ${name}" for name in self.variables)
        query = (f"mutation({definitions}) {{ {self.field}({arguments}) "
                 "{ __typename ... on OperationInfo { messages { field code } } } }")
        response = GraphQLClient(kind).post(query, values, token)
        assert response.status_code == 200, response.content
        body = response.json()
        assert "errors" not in body, body  # only bugs are top-level errors
        payload = body["data"][self.field]
        if payload["__typename"] != "OperationInfo":
            return ("ok",)
        return tuple(sorted(answer_item(m["field"], m["code"]) for m in payload["messages"]))


def rest_answer(response: Any) -> tuple[str, ...]:
    """What a DRF response says: ``ok``, ``throttled``, or the codes of its error details."""
    assert response.status_code < 500, response.content
    if response.status_code < 300:
        return ("ok",)
    if response.status_code == 429:
        return ("throttled",)
    data = response.data
    if "detail" in data:
        return (data["detail"].code,)
    return tuple(sorted(answer_item(field, detail.code) for field, details in data.items() for detail in details))


def rest_json(method: str, path: str, values: dict[str, str], token: str | None = None) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    body = json.dumps(values)  # ensure_ascii: a lone surrogate travels as its escape
    return getattr(DjangoClient(), method)(path, body, content_type="application/json", headers=headers)


def path_segment(value: str) -> str:
    """``value`` percent-encoded as one path segment (a lone surrogate as the bytes a client would send)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def rest_login(values, token):
    return rest_answer(rest_json("post", "/auth/login/", values))


def rest_register(values, token):
    return rest_answer(rest_json("post", "/auth/register/", values))


def rest_confirm(values, token):
    """The link's button: a POST to ``register/confirm/<token>/``."""
    response = DjangoClient().post(f"/auth/register/confirm/{path_segment(values['token'])}/")
    # A value that is no path segment ("", one with "/") finds no URL: refused as well.
    invalid = response.status_code in (400, 404)
    assert invalid or response.status_code == 302, response
    return ("invalid_confirmation_token",) if invalid else ("ok",)


def rest_revoke(values, token):
    response = rest_json("delete", f"/auth/sessions/{path_segment(values['id'])}/", {}, token)
    if response.status_code == 404 and not hasattr(response, "data"):
        return ("session_not_found",)  # no URL for it ("", "/"): Django's own 404
    return rest_answer(response)


def rest_password(path, names):
    """A REST password endpoint whose body fields are the GraphQL arguments' REST names
    (``names``); its field errors named as GraphQL names them, its link error as GraphQL's code."""
    graphql_name = {rest: graphql for graphql, rest in names.items()}

    def call(values, token):
        answer = rest_answer(rest_json("post", path, {names[k]: v for k, v in values.items()}, token))
        return tuple(sorted("invalid_reset_token" if item == "token:invalid_reset_token"
                            else graphql_name.get(item.partition(":")[0], "") + ":" + item.partition(":")[2]
                            if ":" in item else item for item in answer))

    return call


LOGIN = Operation("login", {"username": "String!", "password": "String!", "client": "String"},
                  {"username": "alice", "password": PASSWORD, "client": "web"}, rest_login)
REGISTER = Operation("register", {"username": "String!", "password": "String!", "email": "String"},
                     {"username": "carol", "password": GOOD_PASSWORD, "email": "carol@example.com"}, rest_register)
CONFIRM_EMAIL = Operation("confirmEmail", {"token": "String!"}, {"token": "x" * 64}, rest_confirm)
RESEND = Operation("resendConfirmationEmail", {"email": "String!"}, {"email": "carol@example.com"}, None)
REVOKE_SESSION = Operation("revokeSession", {"id": "ID!"}, {"id": "1"}, rest_revoke)
CHANGE_PASSWORD = Operation(
    "changePassword", {"oldPassword": "String!", "newPassword": "String!"},
    {"oldPassword": PASSWORD, "newPassword": GOOD_PASSWORD},
    rest_password("/auth/password/change/", {"oldPassword": "old_password", "newPassword": "new_password"}))
SEND_PASSWORD_RESET = Operation("sendPasswordResetEmail", {"email": "String!"}, {"email": "alice@example.com"},
                                rest_password("/auth/password/reset/", {"email": "email"}))
RESET_PASSWORD = Operation(
    "resetPassword", {"token": "String!", "newPassword": "String!"}, {"token": "MQ.x-y", "newPassword": GOOD_PASSWORD},
    rest_password("/auth/password/reset/confirm/", {"token": "token", "newPassword": "new_password"}))

# Every string argument of every operation (logout, logoutAll and refresh have none).
ARGUMENTS = [(LOGIN, "username"), (LOGIN, "password"), (LOGIN, "client"), (REGISTER, "username"),
             (REGISTER, "password"), (REGISTER, "email"), (CONFIRM_EMAIL, "token"), (RESEND, "email"),
             (REVOKE_SESSION, "id"), (CHANGE_PASSWORD, "oldPassword"), (CHANGE_PASSWORD, "newPassword"),
             (SEND_PASSWORD_RESET, "email"), (RESET_PASSWORD, "token"), (RESET_PASSWORD, "newPassword")]


def answers(operation: Operation, values: dict[str, str], token: str, *, kinds=("sync", "async"),
            rollback: bool = True) -> dict[str, tuple[str, ...]]:
    """The answer of each adapter (the GraphQL views ``kinds``, then REST); with
    ``rollback``, each call runs in a transaction rolled back after it, so every
    adapter meets the same state."""
    found = {}
    for kind in (*kinds, "rest"):
        if kind == "rest" and operation.rest is None:
            continue
        with rolled_back() if rollback else contextlib.nullcontext():
            found[kind] = operation.rest(values, token) if kind == "rest" else operation.graphql(kind, values, token)
    return found


@contextlib.contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def stored_rows() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (User, AuthToken, EmailConfirmationToken, PendingRegistration, Client)}


@pytest.fixture
def world(settings, user, clients):
    """alice, the clients web and cli, and a token of alice's (for revokeSession)."""
    settings.GQL_AUTHTOKEN = SETTINGS
    return tokens.issue_token(user).token


# --- the table: the issue's inputs, each operation's own answer ------------------------------

NUL_AND_SURROGATES = ["\x00", "a\x00b", "\ud800", "x\udfffy", "\udc00\ud800"]
TOO_LONG = {"username": "u" * 5000, "password": "p" * 100_000, "client": "c" * 5000,
            "email": "e" * 5000 + "@example.com", "token": "t" * 600, "id": "1" * 5000,
            "oldPassword": "p" * 100_000, "newPassword": "p" * 100_000}
REFUSAL = {"login": {"username": "invalid_credentials", "password": "invalid_credentials", "client": "unknown_client"},
           "register": {"username": "username:invalid", "password": "password:invalid", "email": "email:invalid"},
           "confirmEmail": {"token": "invalid_confirmation_token"},
           "resendConfirmationEmail": {"email": "ok"},  # always success: no enumeration
           "revokeSession": {"id": "session_not_found"},
           "changePassword": {"oldPassword": "oldPassword:invalid", "newPassword": "newPassword:invalid"},
           "sendPasswordResetEmail": {"email": "ok"},  # always success: no enumeration
           "resetPassword": {"token": "invalid_reset_token", "newPassword": "newPassword:invalid"}}

TABLE = [(operation, argument, value) for operation, argument in ARGUMENTS
         for value in [*NUL_AND_SURROGATES, TOO_LONG[argument]]]


@pytest.mark.parametrize(("operation", "argument", "value"), TABLE,
                         ids=[f"{o.field}-{a}-{v[:6].encode('unicode_escape').decode()}-{len(v)}"
                              for o, a, v in TABLE])
def test_refused_values_get_the_operations_normal_answer(world, operation, argument, value):
    before = stored_rows()
    values = {**operation.good, argument: value}
    expected = (REFUSAL[operation.field][argument],)
    found = answers(operation, values, world, rollback=False)
    assert found == {kind: expected for kind in found} and len(found) == (3 if operation.rest else 2)
    assert stored_rows() == before and not mail.outbox


def test_good_values_of_the_table_are_accepted(world):
    """The table's other values are good ones: each refusal above is the odd value's."""
    assert answers(LOGIN, LOGIN.good, world) == {"sync": ("ok",), "async": ("ok",), "rest": ("ok",)}
    assert answers(REGISTER, REGISTER.good, world) == {"sync": ("ok",), "async": ("ok",), "rest": ("ok",)}


LOOSE_IDS = {
    "fullwidth": lambda pk: pk.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    "arabic-indic": lambda pk: pk.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
    "space-before": lambda pk: f" {pk}",
    "newline-after": lambda pk: f"{pk}\n",
    "plus": lambda pk: f"+{pk}",
    "underscore": lambda pk: f"{pk[0]}_{pk[1:]}" if len(pk) > 1 else f"0_{pk}",
}


@pytest.mark.parametrize("loose", LOOSE_IDS.values(), ids=LOOSE_IDS.keys())
def test_session_ids_are_exactly_the_ones_handed_out(world, user, loose):
    """``int()`` reads each of these as the session's number; none is an id the package hands out."""
    session = AuthToken.objects.get(user=user)
    session_id = loose(str(session.pk))
    assert int(session_id) == session.pk
    found = answers(REVOKE_SESSION, {"id": session_id}, world, rollback=False)
    assert found == {kind: ("session_not_found",) for kind in ("sync", "async", "rest")}
    assert AuthToken.objects.filter(pk=session.pk).exists()


@pytest.mark.parametrize(("argument", "limit"), [("username", 150), ("password", 4096), ("email", 254)])
def test_register_accepts_up_to_the_limit_and_refuses_one_more(world, argument, limit):
    def value(length):
        if argument == "email":
            return "c" * (length - len("@example.com")) + "@example.com"
        return "A1-b" * (length // 4) + "x" * (length % 4)

    assert inputs.max_length(argument) == limit
    good = {**REGISTER.good, argument: value(limit)}
    assert set(answers(REGISTER, good, world).values()) == {("ok",)}
    too_long = {**REGISTER.good, argument: value(limit + 1)}
    assert set(answers(REGISTER, too_long, world).values()) == {(f"{argument}:invalid",)}


def test_a_password_graphql_registers_can_log_in_over_rest(world):
    """The issue's case: GraphQL registered a 100,000-character password that REST login refused."""
    for length in (4096, 4097, 100_000):
        password = "Aa1-" * (length // 4) + "x" * (length % 4)
        registered = REGISTER.graphql("sync", {"username": f"u{length}", "password": password,
                                               "email": f"u{length}@example.com"}, world)
        logged_in = answers(LOGIN, {"username": f"u{length}", "password": password}, world)
        if length <= inputs.PASSWORD_MAX_LENGTH:
            assert registered == ("ok",) and set(logged_in.values()) == {("ok",)}
        else:
            assert registered == ("password:invalid",)
            assert set(logged_in.values()) == {("invalid_credentials",)}


def test_field_errors_say_why_and_never_quote_the_value(world):
    query = ("mutation($u: String!, $p: String!, $e: String) { register(username: $u, password: $p, email: $e) "
             "{ ... on OperationInfo { messages { field code message } } } }")
    messages = GraphQLClient("sync")(query, {"u": "a\x00b", "p": "p" * 5000, "e": "\ud800@example.com"})
    assert sorted((m["field"], m["code"], m["message"]) for m in messages["data"]["register"]["messages"]) == [
        ("email", "invalid", "Enter a valid value."),
        ("password", "invalid", "Ensure this value has at most 4096 characters (it has 5000)."),
        ("username", "invalid", "Null characters are not allowed."),
    ]


def test_refused_values_are_counted_per_ip_like_any_other(world, settings):
    """A refused value is an attempt like any other: the IP's bucket counts it, so it
    cannot be told apart from a wrong value by the throttle, nor be tried for free."""
    settings.GQL_AUTHTOKEN = {**SETTINGS, "LOGIN_THROTTLE_RATE": "2/hour"}
    codes = [LOGIN.graphql("sync", {"username": f"x{n}\x00", "password": "pw"}, world) for n in range(3)]
    assert codes == [("invalid_credentials",), ("invalid_credentials",), ("throttled",)]
    assert LOGIN.graphql("sync", {"username": "alice", "password": PASSWORD}, world) == ("throttled",)


def test_a_nul_in_the_user_agent_is_recorded_as_a_replacement_character(world, user):
    """The login's User-Agent goes into the sessions list; PostgreSQL stores no NUL."""
    response = GraphQLClient("sync").post(
        "mutation { login(username: \"alice\", password: \"%s\") { __typename } }" % PASSWORD,
        User_Agent="curl\x00/8" + "x" * 300)
    assert response.json()["data"]["login"]["__typename"] == "LoginResult"
    newest = AuthToken.objects.filter(user=user).latest("created")
    assert newest.user_agent == ("curl\ufffd/8" + "x" * 300)[:256]


@pytest.mark.parametrize("header", ["Token a\x00b", "Token \x00", "Token \x85", "Token " + "é" * 2, "Bearer \x7f"])
def test_odd_authorization_headers_get_drfs_message(world, header):
    response = DjangoClient().get("/auth/token/", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token header. Token string should not contain invalid characters."}
    assert GraphQLClient("sync")("{ me { username } }", token=None, Authorization=header)["data"]["me"] is None


def test_unexpected_errors_never_show_their_text(world, monkeypatch):
    """A bug answers a generic message: REST Django's plain 500 page, GraphQL "Unexpected error."."""
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail: relation does not exist")

    monkeypatch.setattr(login, "login", broken)
    response = DjangoClient(raise_request_exception=False).post(
        "/auth/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 500 and b"internal detail" not in response.content
    body = GraphQLClient("sync")(
        'mutation { login(username: "alice", password: "x") { __typename } }')
    assert body["errors"][0]["message"] == "Unexpected error." and "internal detail" not in json.dumps(body)


# --- unit: the core's one check ---------------------------------------------------------------


@pytest.mark.parametrize(("value", "max_length", "refused"), [
    ("", 3, False), ("abc", 3, False), ("abcd", 3, True), ("a" * 10_000, None, False),
    ("\x00", None, True), ("\ud800", None, True), ("\udfff", None, True), ("😀", None, False),
    ("\x01\x1f\x7f\u202e\ufffe", None, False), (b"bytes", None, True), (7, None, True),
])
def test_text_error(value, max_length, refused):
    error = inputs.text_error(value, max_length=max_length)
    assert (error is not None) == refused
    assert error is None or error.code == "invalid"


def test_refused_names_every_refused_argument_and_skips_absent_ones(db):
    assert inputs.refused(username="alice", password="x", email=None) == {}
    assert sorted(inputs.refused(username="a\x00", password="p" * 4097, email="\ud800", client="c" * 65)) == [
        "client", "email", "password", "username"]
    with pytest.raises(ValueError):
        inputs.refused(nickname="x")


@pytest.mark.parametrize(("session_id", "pk"), [
    ("1", 1), ("0012", 12), (42, 42), ("9" * 19, int("9" * 19)), ("9" * 20, None), ("", None), ("１", None),
    (" 1", None), ("1_0", None), ("-1", None), (True, None), ("\x00", None), ("\ud800", None),
])
def test_session_pk(session_id, pk):
    assert inputs.session_pk(session_id) == pk


def test_sanitized():
    assert inputs.sanitized("a\x00b\ud800c", max_length=4) == "a\ufffdb\ufffd"


# --- the property: arbitrary text through every string argument, GraphQL and REST agree -------

ANY_CHARACTER = st.characters(exclude_categories=())  # every code point, surrogates included
# Real values and Unicode case / compatibility variants of them (fullwidth, dotless i,
# long s, ligatures, Kelvin sign), so some generated values reach real rows.
VARIANTS = ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "alıce", "ALİCE", "ſ", "ﬁnn", "\u212a", "alice@example.com",
            "ALICE@EXAMPLE.COM", "carol", "carol@example.com", "web", "WEB", "ｗｅｂ", "cli", "1", "１",
            PASSWORD, GOOD_PASSWORD]
LENGTHS = st.one_of(st.integers(0, 300), st.sampled_from([64, 65, 150, 151, 254, 255, 512, 513, 4096, 4097,
                                                           5000, 100_000]))
ARBITRARY_TEXT = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.text(st.characters(categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp")), max_size=10),  # controls, spaces
    st.builds(operator.mul, ANY_CHARACTER, LENGTHS),  # long runs, across every limit
    st.builds(lambda before, variant, after: before + variant + after,
              st.text(ANY_CHARACTER, max_size=2), st.sampled_from(VARIANTS), st.text(ANY_CHARACTER, max_size=2)),
    st.sampled_from(VARIANTS),
)
# Throttles stay on (their cache keys are built from the values) but never refuse here.
UNTHROTTLED = {**SETTINGS, "LOGIN_THROTTLE_RATE": "100000/min", "ACCOUNT_THROTTLE_RATE": "100000/min"}


@pytest.mark.parametrize(("operation", "argument"), ARGUMENTS, ids=[f"{o.field}-{a}" for o, a in ARGUMENTS])
@hypothesis_settings(max_examples=100, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=ARBITRARY_TEXT, kind=st.sampled_from(["sync", "async"]))
def test_any_text_in_any_argument(world, settings, operation, argument, value, kind):
    """Never a top-level error or a 5xx (asserted by each call), and GraphQL and REST
    accept and refuse alike; where both refuse with the core's answer, the same one."""
    settings.GQL_AUTHTOKEN = UNTHROTTLED
    found = answers(operation, {**operation.good, argument: value}, world, kinds=(kind,))
    if "rest" not in found:  # resendConfirmationEmail: GraphQL only, always success
        assert found[kind] == ("ok",)
        return
    graphql, rest = found[kind], found["rest"]
    event(f"answer: {graphql[0]}")  # --hypothesis-show-statistics shows what the values met
    assert (graphql == ("ok",)) == (rest == ("ok",)), found
    if rest not in {("username:blank",), ("password:blank",)}:  # REST login keeps DRF's blank-field error
        assert graphql == rest, found


@pytest.mark.parametrize(("operation", "query_required", "problem"), [
    ({"query": "{ me { id } }"}, True, None),
    ({"query": "query Me { me { id } }", "operationName": "Me", "variables": {"a": 1}, "extensions": {}}, True, None),
    ({"query": "q", "operationName": None, "variables": None, "extensions": None}, True, None),
    ({}, False, None),  # over HTTP Strawberry answers a missing query with its own 400
    ({}, True, "An operation's query must be a string."),
    ({"query": None}, True, "An operation's query must be a string."),
    ({"query": 5}, False, "An operation's query must be a string."),
    ({"query": "q", "operationName": 5}, True, "An operation's operationName must be a string or null."),
    ({"query": "query _Me2 { me { id } }", "operationName": "_Me2"}, True, None),
    ({"operationName": "Me"}, False, None),  # no query: over HTTP Strawberry's own 400
    ({"query": "query Me { me { id } }", "operationName": "Mine"}, True,  # not in the query: names nothing
     "An operation's operationName must be the name of an operation in its query, or null."),
    *[({"query": "q", "operationName": name}, True,
       "An operation's operationName must be the name of an operation in its query, or null.")
      for name in ["", "\ud800", "a\x00b", "A" * 10 + "\u200b", "2fast", "my-op", " Me", "Me\n", "Ｍｅ", "é"]],
    ({"query": "q", "variables": [1]}, True, "An operation's variables must be an object or null."),
    ({"query": "q", "extensions": "x"}, True, "An operation's extensions must be an object or null."),
])
def test_graphql_operation_problem(operation, query_required, problem):
    """One rule for HTTP bodies, uploads and WebSocket payloads (GraphQL over HTTP's request parameters)."""
    assert inputs.graphql_operation_problem(operation, query_required=query_required) == problem
