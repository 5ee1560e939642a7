"""Property-based: arbitrary Authorization values never raise and never authenticate."""

from __future__ import annotations

import pytest
from django.test import Client as DjangoClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from gql_authtoken import tokens
from gql_authtoken.exceptions import AuthTokenError, InvalidToken

# Header values as a WSGI server hands them over: latin-1 decoded bytes.
header_bytes = st.binary(max_size=600).map(lambda raw: raw.decode("iso-8859-1"))
keyword_headers = st.tuples(st.sampled_from(["Token", "token", "Bearer", "TOKEN"]), header_bytes).map(
    lambda parts: f"{parts[0]} {parts[1]}")
any_header = st.one_of(header_bytes, keyword_headers, st.text(max_size=300))


@given(any_header)
def test_parsing_never_raises_anything_but_a_coded_error(value):
    try:
        token = tokens.parse_authorization_header(value)
    except AuthTokenError as error:
        assert error.code == "invalid_token"
    else:
        assert token is None or (token and " " not in token and token.isprintable())


@pytest.mark.django_db
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(keyword_headers)
def test_arbitrary_tokens_never_authenticate(user, value):
    tokens.issue_token(user)  # a real token exists; random input must not find it
    try:
        token = tokens.parse_authorization_header(value)
    except AuthTokenError:
        return
    if token is not None:
        with pytest.raises(InvalidToken):
            tokens.authenticate_token(token, use_cache=True)


@pytest.mark.django_db
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(keyword_headers)
def test_arbitrary_headers_get_401_or_anonymous_never_500(user, value):
    rest = APIClient().get("/auth/token/", HTTP_AUTHORIZATION=value)
    assert rest.status_code == 401
    graphql = DjangoClient().post("/graphql/sync/", '{"query": "{ me { username } }"}',
                                  content_type="application/json", HTTP_AUTHORIZATION=value)
    assert graphql.status_code == 200 and graphql.json()["data"]["me"] is None
