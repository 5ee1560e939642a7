"""Fuzzing with schemathesis: the REST OpenAPI document and the GraphQL schema.

Every generated request, with and without a valid token, must get a
documented status and never a 5xx; GraphQL answers must carry only the
package's error codes or GraphQL validation errors.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from gql_authtoken import tokens

EXPECTED_CODES = {
    "invalid_credentials", "inactive_user", "not_authenticated", "invalid_token", "token_expired",
    "unknown_client", "registration_disabled", "invalid_confirmation_token", "session_not_found",
    "throttled", "permission_denied", "unique", "required", "invalid",
}
# Fields of tests/schema.py that fail on purpose (error masking tests); their errors have a path.
FAILING_ON_PURPOSE = {"broken", "refusedOnPurpose"}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
FUZZ_SETTINGS = {"REGISTRATION_ENABLED": True, "API_ACCESS_CLIENT_NAME": "api"}


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests made straight through WSGIHandler would close the test's database
    connection at their end (and with it the test transaction); Django's test
    client avoids that the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(user):
    from gql_authtoken.models import Client

    Client.objects.create(name="api", token_ttl=None)
    return tokens.issue_token(user).token


def fuzz_each_operation(schema, check) -> int:
    """Run ``check`` on generated cases of every operation; how many operations ran.

    (Driven through each operation's Hypothesis strategy: schemathesis' pytest
    plugin does not run under the pytest this project uses.)
    """
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def run(case):
            check(case)

        run()
    return len(operations)


def test_rest_endpoints(token):
    def check(case):
        for headers in ({}, {"Authorization": f"Token {token}"}):
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                     content_type_conformance])

    with override_settings(ROOT_URLCONF="tests.urls_openapi", GQL_AUTHTOKEN=FUZZ_SETTINGS):
        schema = schemathesis.openapi.from_wsgi("/openapi.json", WSGIHandler())
        # Every REST operation; the confirmation link is a page for people, not part of
        # the OpenAPI document (tests/test_registration_link.py covers odd tokens there).
        # logout: GET (drf_advanced_token), POST, DELETE; csrf/: GET.
        assert fuzz_each_operation(schema, check) == 15


def test_graphql_operations(token):
    def check(case):
        for headers in ({}, {"Authorization": f"Token {token}"}):
            response = case.call(headers=headers)
            assert response.status_code < 500, response.text
            body = response.json()
            for error in body.get("errors") or []:
                code = (error.get("extensions") or {}).get("code")
                # Validation errors have no path.
                assert code in EXPECTED_CODES or "path" not in error or error["path"][0] in FAILING_ON_PURPOSE, error
            for payload in (body.get("data") or {}).values():
                for message in payload.get("messages", []) if isinstance(payload, dict) else []:
                    code = message.get("code")  # when the generated query selected it
                    assert code is None or code in EXPECTED_CODES or code.startswith("password_"), message

    with override_settings(GQL_AUTHTOKEN=FUZZ_SETTINGS):
        schema = schemathesis.graphql.from_wsgi("/graphql/sync/", WSGIHandler())
        assert fuzz_each_operation(schema, check) > 10
