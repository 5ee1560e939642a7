"""The token lookup compiled once (lookup.py) answers what the ORM's own query answers, in one query."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from gql_authtoken import crypto, lookup, tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken


def fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def same_as_the_orm(found, related=("user", "client")):
    expected = AuthToken.objects.select_related(*related).get(pk=found.pk)
    assert type(found) is AuthToken and fields(found) == fields(expected)
    assert (found._state.db, found._state.adding) == (expected._state.db, False)
    for name in related:
        assert AuthToken._meta.get_field(name).is_cached(found)
        mine, theirs = getattr(found, name), getattr(expected, name)
        assert (mine is None) == (theirs is None)
        if mine is not None:
            assert type(mine) is type(theirs) and fields(mine) == fields(theirs)
            assert (mine._state.db, mine._state.adding) == (theirs._state.db, False)


@pytest.mark.parametrize("client", [None, "web"])
def test_the_compiled_lookup_builds_what_the_orm_builds(user, clients, client, django_assert_num_queries):
    issued = tokens.issue_token(user, client=clients[client] if client else None)
    issued.instance.last_used = timezone.now()
    issued.instance.ip_address = "2001:db8::1"
    issued.instance.save()
    for _ in range(2):  # compiled on the first call, reused on the second
        with django_assert_num_queries(1):
            [found] = lookup.fetch_tokens([crypto.hash_token(issued.token)])
        same_as_the_orm(found)
    with django_assert_num_queries(0):
        assert found.user.get_username() == "alice" and found.client == (clients[client] if client else None)


@pytest.mark.parametrize("listed", [[], ["user"], ["client"], ["user", "client"]])
def test_the_user_and_client_are_always_joined(user, clients, listed, django_assert_num_queries):
    """They decide whether the token is served: read with it from the primary, never lazily
    through a read router, whatever AUTHTOKEN_SELECT_RELATED_LIST leaves out."""
    issued = tokens.issue_token(user, client=clients["web"])
    with override_settings(GQL_AUTHTOKEN={"AUTHTOKEN_SELECT_RELATED_LIST": listed}):
        with django_assert_num_queries(1):
            [found] = lookup.fetch_tokens([crypto.hash_token(issued.token)])
            assert found.user.is_active and found.client.name == "web"
        same_as_the_orm(found)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_prepare_threshold_in_the_database_options_prepares_the_lookup(user, django_assert_num_queries, monkeypatch):
    """A project whose DATABASES OPTIONS set prepare_threshold allows prepared statements: the
    lookup then runs on a server-side binding cursor that psycopg prepares (one query, as counted)."""
    issued = tokens.issue_token(user)
    digest = crypto.hash_token(issued.token)
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {**connection.settings_dict["OPTIONS"],
                                                              "prepare_threshold": 0})
    lookup._prepared.cache_clear()
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", 0)  # as psycopg.connect() would have set it
    try:
        for _ in range(2):
            with django_assert_num_queries(1):
                [found] = lookup.fetch_tokens([digest])
            same_as_the_orm(found)
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            prepared = [row[0] for row in cursor.fetchall()]
    finally:
        lookup._prepared.cache_clear()
    assert any(AuthToken._meta.db_table in statement for statement in prepared), prepared


def test_unknown_digests_find_nothing(db):
    assert lookup.fetch_tokens([crypto.hash_token("nothing")]) == []
    with pytest.raises(InvalidToken):
        tokens.load_token(crypto.hash_token("nothing"))


def rest_authtoken_row(user):
    """A token as django-rest-authtoken issued it, and the row import_tokens made of it."""
    raw = secrets.token_bytes(48)
    AuthToken.objects.create(user=user, digest=crypto.REST_AUTHTOKEN_PREFIX + hashlib.sha512(raw).hexdigest(),
                             created=timezone.now())
    return base64.urlsafe_b64encode(raw).decode()


def test_imported_rest_authtoken_tokens_need_the_setting(transactional_db, user, django_assert_num_queries):
    token = rest_authtoken_row(user)
    assert tokens.token_digests(token) == (crypto.hash_token(token), None)  # no second hash by default
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(token)
    with override_settings(GQL_AUTHTOKEN={"ACCEPT_REST_AUTHTOKEN_TOKENS": True}):
        assert tokens.authenticate_token(token).user == user  # and its first last_used write
        with django_assert_num_queries(1):
            assert tokens.authenticate_token(token).user == user
        ours = tokens.issue_token(user).token  # our own tokens still work alongside
        assert tokens.authenticate_token(ours).user == user


def test_the_database_check_warns_about_imported_tokens_it_does_not_accept(user):
    from gql_authtoken.checks import check_imported_rest_authtoken_tokens

    assert check_imported_rest_authtoken_tokens(databases=[connection.alias]) == []
    rest_authtoken_row(user)
    [warning] = check_imported_rest_authtoken_tokens(databases=[connection.alias])
    assert warning.id == "gql_authtoken.W008" and "ACCEPT_REST_AUTHTOKEN_TOKENS" in warning.hint
    assert check_imported_rest_authtoken_tokens(databases=None) == []  # not a start-up check
    with override_settings(GQL_AUTHTOKEN={"ACCEPT_REST_AUTHTOKEN_TOKENS": True}):
        assert check_imported_rest_authtoken_tokens(databases=[connection.alias]) == []
