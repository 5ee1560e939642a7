"""REST takes only JSON strings for string fields, as GraphQL's ``String`` does (API.md §5:
both accept and refuse exactly the same values): ``{"username": 1}`` is a field error ``invalid``."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from gql_authtoken.rest.serializers import InputField

from .test_registration import ENABLED


def string_fields():
    """(path, field) for every string field of every package endpoint that reads a body."""
    found = set()
    for pattern in get_resolver("gql_authtoken.urls").url_patterns:
        assert isinstance(pattern, URLPattern) and not isinstance(pattern, URLResolver)
        view = pattern.callback.view_class
        serializer = getattr(view, "serializer_class", None)
        if serializer is None or "<" in str(pattern.pattern) or not str(pattern.pattern).endswith("/"):
            continue
        for name, field in serializer().fields.items():
            assert isinstance(field, InputField), (view, name)  # every input field refuses non-strings
            found.add((f"/auth/{pattern.pattern}", name))
    return sorted(found)


FIELDS = string_fields()


def test_every_endpoint_with_a_body_is_covered():
    assert {path for path, _ in FIELDS} == {
        "/auth/login/", "/auth/register/", "/auth/password/change/", "/auth/password/reset/",
        "/auth/password/reset/confirm/", "/auth/email/change/"}


@pytest.mark.parametrize("value", [1, 0, 1.5, -7, True, False, {"a": "b"}, [], ["x"]])
@pytest.mark.parametrize(("path", "field"), FIELDS)
def test_a_non_string_json_value_is_invalid(settings, login_token, path, field, value):
    settings.GQL_AUTHTOKEN = ENABLED
    api = APIClient(HTTP_AUTHORIZATION=f"Token {login_token}")
    response = api.post(path, {field: value}, format="json")
    assert response.status_code == 400, (response.status_code, response.content)
    assert field in response.json(), response.json()


@pytest.mark.parametrize("kind", ["rest", "graphql-sync"])
def test_graphql_and_rest_both_refuse_a_number_for_a_username(kind, settings, db):
    from django.contrib.auth import get_user_model

    from .adapters import REGISTER
    from .conftest import GraphQLClient

    settings.GQL_AUTHTOKEN = ENABLED
    if kind == "rest":
        response = APIClient().post("/auth/register/", {"username": 1, "password": "a-Strong-passphrase-42"},
                                    format="json")
        assert response.status_code == 400 and response.json() == {"username": ["Not a valid string."]}
    else:
        result = GraphQLClient("sync").post(REGISTER, {"username": 1, "password": "a-Strong-passphrase-42"}).json()
        assert result["errors"] and "String" in result["errors"][0]["message"]
    assert not get_user_model().objects.exists()
