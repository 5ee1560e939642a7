"""The GraphQL adapter, run against both GraphQLView and AsyncGraphQLView."""

from __future__ import annotations

import functools
import json
import logging
from datetime import timedelta

import pytest
import strawberry
from django.test import override_settings

from gql_authtoken import clock, crypto, tokens
from gql_authtoken.graphql import MaskUnexpectedErrors
from gql_authtoken.models import AuthToken

from .conftest import ADMINS, LOGIN, PASSWORD, logged_text, operation_code

ME = "{ me { id username email } }"
SESSIONS = "{ sessions { id client isCurrent created expiry lastUsed userAgent ipAddress } }"
CURRENT = "{ currentSession { id client isCurrent } }"
MUTATION = """mutation { %s { __typename
  ... on %s
  ... on OperationInfo { messages { kind message code field } } } }"""


def login(gql, username="alice", password=PASSWORD, client=None, **extra):
    variables = {"username": username, "password": password, "client": client}
    return gql(LOGIN, variables, **extra)["data"]["login"]


def mutate(gql, field, token=None):
    name = field.split("(")[0]
    fragment = "RefreshResult { expiry token }" if name == "refresh" else "LogoutResult { revokedSessions }"
    return gql(MUTATION % (field, fragment), token=token)["data"][name]


def test_login_returns_token_user_and_session(gql, user):
    result = login(gql, User_Agent="pytest-agent")
    assert result["__typename"] == "LoginResult"
    assert len(result["token"]) == 64
    assert result["user"] == {"id": str(user.pk), "username": "alice", "email": "alice@example.com"}
    assert result["session"]["isCurrent"] is True
    assert result["session"]["userAgent"] == "pytest-agent"
    assert result["session"]["ipAddress"] == "127.0.0.1"
    stored = AuthToken.objects.get()
    assert stored.digest == crypto.hash_token(result["token"])
    assert result["session"]["id"] == str(stored.pk)


def test_login_with_client_uses_its_ttl(gql, user, clients):
    result = login(gql, client="web")
    token = AuthToken.objects.get()
    assert token.client == clients["web"]
    assert token.expiry - token.created == timedelta(hours=2)
    assert result["session"]["client"] == "web"


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [("alice", "wrong", "invalid_credentials"), ("nobody", PASSWORD, "invalid_credentials")],
)
def test_login_failure_says_the_same_for_unknown_user_and_wrong_password(gql, user, username, password, code):
    result = login(gql, username=username, password=password)
    assert operation_code(result) == code
    assert result["messages"][0]["message"] == "Unable to log in with provided credentials."
    assert not AuthToken.objects.exists()


def test_inactive_user_is_reported_only_after_the_password_matched(gql, user):
    user.is_active = False
    user.save()
    assert operation_code(login(gql, password="wrong")) == "invalid_credentials"
    assert operation_code(login(gql)) == "inactive_user"
    assert not AuthToken.objects.exists()


def test_unknown_client_is_never_created(gql, user, clients):
    assert operation_code(login(gql, client="made-up")) == "unknown_client"
    assert not AuthToken.objects.exists()


def test_me_and_current_session(gql, user, login_token):
    assert gql(ME, token=login_token)["data"]["me"]["username"] == "alice"
    session = gql(CURRENT, token=login_token)["data"]["currentSession"]
    assert session["isCurrent"] is True and session["client"] is None
    assert gql(ME)["data"]["me"] is None
    assert gql(CURRENT)["data"]["currentSession"] is None


def test_sessions_lists_newest_first_and_marks_current(gql, user, other_user, clients):
    first = tokens.issue_token(user).token
    second = tokens.issue_token(user, client=clients["web"]).token
    tokens.issue_token(other_user)
    sessions = gql(SESSIONS, token=first)["data"]["sessions"]
    assert [s["client"] for s in sessions] == ["web", None]
    assert [s["isCurrent"] for s in sessions] == [False, True]
    assert len(gql(SESSIONS, token=second)["data"]["sessions"]) == 2


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "not_authenticated"), ("Token nope", "invalid_token"), ("Token", "invalid_token")],
)
def test_sessions_without_a_live_token_is_an_error_with_a_code(gql, user, header, code):
    extra = {"Authorization": header} if header else {}
    result = gql(SESSIONS, **extra)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == code
    assert result["errors"][0]["path"] == ["sessions"]


def test_expired_token_reports_token_expired_once_then_invalid(transactional_db, gql, user, monkeypatch):
    # Outside a transaction, as a request runs (inside one the deletion waits for the commit).
    token = tokens.issue_token(user).token
    later = clock.now() + timedelta(days=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert operation_code(mutate(gql, "logout", token)) == "token_expired"
    assert not AuthToken.objects.exists()
    assert operation_code(mutate(gql, "logout", token)) == "invalid_token"


def test_stale_token_still_allows_login(gql, user):
    result = login(gql, Authorization="Token revoked-or-made-up")
    assert result["__typename"] == "LoginResult"


def test_logout_revokes_only_this_token(gql, user, login_token):
    other = tokens.issue_token(user).token
    assert mutate(gql, "logout", login_token) == {"__typename": "LogoutResult", "revokedSessions": 1}
    assert gql(ME, token=login_token)["data"]["me"] is None
    assert operation_code(mutate(gql, "logout", login_token)) == "invalid_token"
    assert gql(ME, token=other)["data"]["me"]["username"] == "alice"


def test_logout_without_token(gql, user):
    assert operation_code(mutate(gql, "logout")) == "not_authenticated"


def test_logout_all_revokes_every_token_of_the_user_only(gql, user, other_user, login_token):
    tokens.issue_token(user)
    bob = tokens.issue_token(other_user).token
    assert mutate(gql, "logoutAll", login_token)["revokedSessions"] == 2
    assert not AuthToken.objects.filter(user=user).exists()
    assert gql(ME, token=bob)["data"]["me"]["username"] == "bob"


def test_revoke_session(gql, user, other_user, login_token):
    mine = tokens.issue_token(user)
    theirs = tokens.issue_token(other_user)
    query = 'revokeSession(id: "%s")'
    assert operation_code(mutate(gql, query % theirs.instance.pk, login_token)) == "session_not_found"
    for bad_id in ("not-a-number", "99999999999999999999999", "-1", ""):
        assert operation_code(mutate(gql, query % bad_id, login_token)) == "session_not_found"
    assert AuthToken.objects.filter(pk=theirs.instance.pk).exists()
    assert mutate(gql, query % mine.instance.pk, login_token)["revokedSessions"] == 1
    assert gql(ME, token=mine.token)["data"]["me"] is None


def test_refresh_extends_expiry(gql, user, clients, monkeypatch):
    issued = tokens.issue_token(user, client=clients["web"])
    later = clock.now() + timedelta(hours=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    result = mutate(gql, "refresh", issued.token)
    assert result["token"] is None
    issued.instance.refresh_from_db()
    assert issued.instance.expiry == later + timedelta(hours=2)


def test_refresh_with_rotate_replaces_the_token(gql, user, login_token):
    result = mutate(gql, "refresh(rotate: true)", login_token)
    new = result["token"]
    assert new and new != login_token
    assert gql(ME, token=login_token)["data"]["me"] is None
    assert gql(ME, token=new)["data"]["me"]["username"] == "alice"
    assert AuthToken.objects.count() == 1


@override_settings(GQL_AUTHTOKEN={"MAX_TOKEN_LIFETIME": timedelta(hours=3)})
def test_refresh_never_passes_max_lifetime(gql, user, clients, monkeypatch):
    issued = tokens.issue_token(user, client=clients["web"])
    later = issued.instance.created + timedelta(minutes=90)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert mutate(gql, "refresh", issued.token)["__typename"] == "RefreshResult"
    issued.instance.refresh_from_db()
    assert issued.instance.expiry == issued.instance.created + timedelta(hours=3)


def test_permission_extensions(gql, user, clients):
    web = tokens.issue_token(user, client=clients["web"]).token
    cli = tokens.issue_token(user, client=clients["cli"]).token
    plain = tokens.issue_token(user).token
    assert gql("{ secret }", token=plain)["data"]["secret"] == "secret of alice"
    if gql.kind == "async":  # an async resolver cannot run under the sync view at all
        assert gql("{ asyncSecret }", token=plain)["data"]["asyncSecret"] == "async secret of alice"
        assert gql("{ asyncSecret }")["errors"][0]["extensions"]["code"] == "not_authenticated"
    assert gql("{ webOnly }", token=web)["data"]["webOnly"] == "web"
    assert gql("{ notCli }", token=web)["data"]["notCli"] == "not cli"
    for query, token, code in [
        ("{ secret }", None, "not_authenticated"),
        ("{ secret }", "bogus", "invalid_token"),
        ("{ webOnly }", cli, "permission_denied"),
        ("{ webOnly }", plain, "permission_denied"),
        ("{ notCli }", cli, "permission_denied"),
    ]:
        result = gql(query, token=token)
        assert result["errors"][0]["extensions"]["code"] == code, (query, result)


def test_permission_extension_on_a_union_returns_operation_info(gql, user, login_token):
    query = "mutation { touchSecret { __typename ... on Secret { value } ... on OperationInfo { messages { code } } } }"
    assert gql(query, token=login_token)["data"]["touchSecret"] == {"__typename": "Secret", "value": "touched"}
    denied = gql(query)["data"]["touchSecret"]
    assert denied == {"__typename": "OperationInfo", "messages": [{"code": "not_authenticated"}]}


def test_one_query_per_authenticated_request(gql, user, login_token, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert gql(ME, token=login_token)["data"]["me"]["username"] == "alice"


def test_expected_auth_errors_are_not_logged_as_server_errors(gql, user, caplog):
    gql(SESSIONS)
    assert not [r for r in caplog.records if r.name.startswith("strawberry")]


SECRET = "hunter2-never-logged"
BROKEN_INLINE = 'mutation { broken(password: "%s") }' % SECRET
BROKEN_VARIABLE = "mutation Broken($password: String!) { broken(password: $password) }"


@pytest.mark.parametrize(("query", "variables"), [(BROKEN_INLINE, None), (BROKEN_VARIABLE, {"password": SECRET})])
def test_unexpected_errors_are_masked_and_logged_without_the_operation(gql, db, caplog, query, variables):
    caplog.set_level(logging.DEBUG)
    [error] = gql(query, variables)["errors"]
    assert error["message"] == "Unexpected error."
    assert error["path"] == ["broken"]
    assert "internal detail" not in json.dumps(error)
    logged = logged_text(caplog.records)
    assert "Unexpected RuntimeError in GraphQL field broken" in logged
    assert "Traceback" in logged
    assert SECRET not in logged



@pytest.mark.parametrize(("query", "variables"), [(BROKEN_INLINE, None), (BROKEN_VARIABLE, {"password": SECRET})])
def test_error_mails_to_admins_carry_no_arguments(gql, db, settings, query, variables):
    """Django's AdminEmailHandler renders every frame's locals of a logged exception; the
    resolvers' and graphql-core's frames hold the arguments, so none may reach it."""
    from django.core import mail
    from django.utils.log import AdminEmailHandler

    settings.ADMINS = ADMINS
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("strawberry.execution")  # where the schema logs unexpected errors
    logger.addHandler(handler)
    try:
        gql(query, variables)
    finally:
        logger.removeHandler(handler)
    [message] = mail.outbox
    assert "Unexpected RuntimeError" in message.subject + message.body
    assert SECRET not in message.body and all(SECRET not in body for body, _ in message.alternatives)

def test_errors_meant_for_the_client_keep_their_messages_and_are_not_logged(gql, user, caplog):
    assert gql("{ refusedOnPurpose }")["errors"][0]["message"] == "Refused on purpose."
    assert gql("{ nope }")["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."
    syntax = gql.post('mutation { login(username: "alice", password: "%s" }' % SECRET).json()
    assert syntax["errors"][0]["message"].startswith("Syntax Error")
    [error] = gql(SESSIONS)["errors"]
    assert error["message"] == "Authentication credentials were not provided."
    assert error["extensions"]["code"] == "not_authenticated"
    assert not [r for r in caplog.records if r.name.startswith("strawberry")]


def test_a_plain_strawberry_schema_masks_with_the_extension(db, caplog):
    from .schema import Mutation, Query

    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[MaskUnexpectedErrors])
    [error] = schema.execute_sync(BROKEN_INLINE).errors
    assert error.message == "Unexpected error."


@pytest.mark.parametrize("make", [
    lambda mask: functools.partial(mask, error_message="Oops."),
    lambda mask: lambda: mask(error_message="Oops."),  # Strawberry's factory form
    lambda mask: type("OwnMask", (mask,), {"__init__": lambda self: mask.__init__(self, error_message="Oops.")}),
], ids=["partial", "factory", "subclass"])
def test_the_packages_schema_masks_with_the_projects_own_text(db, make):
    from gql_authtoken.graphql import Schema

    from .schema import Mutation, Query

    schema = Schema(query=Query, mutation=Mutation, extensions=[make(MaskUnexpectedErrors)])
    [error] = schema.execute_sync(BROKEN_INLINE).errors
    assert error.message == "Oops."
    [error] = Schema(query=Query, mutation=Mutation).execute_sync(BROKEN_INLINE).errors
    assert error.message == "Unexpected error."


def test_a_plain_sync_resolver_reads_the_token_user_on_either_view(gql, user, login_token, caplog):
    """Under AsyncGraphQLView a sync resolver runs in the event loop, where Django refuses a query:
    the middleware looks the token up before the view, so current_user(info) needs none. It used to
    work only when another field of the document had looked the token up first."""
    assert gql("{ plainWhoami }", token=login_token) == {"data": {"plainWhoami": "alice"}}
    refused = gql("{ plainWhoami }", token="not-a-token")
    assert refused["data"] is None and refused["errors"][0]["message"] == "Invalid token."
    assert refused["errors"][0]["extensions"] == {"code": "invalid_token"}  # raised bare by the app's resolver
    anonymous = gql("{ plainWhoami }")
    assert anonymous["errors"][0]["extensions"] == {"code": "not_authenticated"}
    assert "SynchronousOnlyOperation" not in caplog.text


@pytest.mark.parametrize("session", ["logged-in", "garbage-cookie"])
def test_a_plain_sync_resolver_under_the_async_view_reads_a_session_user(transactional_db, user, session, caplog):
    """No token, a session cookie: Django's lazy session user is loaded before the async view too
    (it used to load inside the event loop: SynchronousOnlyOperation, "Unexpected error.")."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    if session == "logged-in":
        async_to_sync(client.aforce_login)(user)
    else:
        client.cookies["sessionid"] = "garbage"
    body = json.dumps({"query": "{ plainWhoami }"})
    response = async_to_sync(client.post)("/graphql/async/", body, content_type="application/json")
    payload = response.json()
    if session == "logged-in":
        assert payload == {"data": {"plainWhoami": "alice"}}
    else:
        assert payload["errors"][0]["extensions"] == {"code": "not_authenticated"}
    assert "SynchronousOnlyOperation" not in caplog.text


def test_a_session_user_on_a_token_field_hears_that_a_token_is_needed(user):
    """Same code as without credentials (not_authenticated), but the message tells a logged-in
    session user what is missing (it used to say no credentials were provided)."""
    from django.test import Client as DjangoClient

    client = DjangoClient()
    client.force_login(user)
    body = json.dumps({"query": "{ me { username } secret }"})
    payload = client.post("/graphql/sync/", body, content_type="application/json").json()
    assert payload["data"] is None or payload["data"].get("me") in (None, {"username": "alice"})
    [error] = payload["errors"]
    assert error["extensions"] == {"code": "not_authenticated"}
    assert error["message"] == "A token is needed here: a session login is not enough."
