"""The REST endpoints and the token scheme in a drf-spectacular OpenAPI document."""

from __future__ import annotations

import yaml
from django.core.management import call_command


def test_openapi_schema_describes_every_endpoint_and_the_token_scheme(tmp_path, db):
    path = tmp_path / "openapi.yaml"
    # --validate checks it against the OpenAPI schema; --fail-on-warn: no guessed parts.
    call_command("spectacular", "--urlconf", "gql_authtoken.urls", "--validate", "--fail-on-warn",
                 "--file", str(path))
    document = yaml.safe_load(path.read_text())
    scheme = document["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "Authorization"}
    methods = {p: set(ops) - {"parameters"} for p, ops in document["paths"].items()}
    assert methods == {
        "/login/": {"post"}, "/logout/": {"get", "post", "delete"}, "/logoutall/": {"post"}, "/refresh/": {"post"},
        "/token/": {"get", "put"}, "/sessions/": {"get"}, "/sessions/{session_id}/": {"delete"},
        "/apiaccess/": {"get", "post", "delete"}, "/register/": {"post"}, "/csrf/": {"get"},
        "/password/change/": {"post"}, "/password/reset/": {"post"}, "/password/reset/confirm/": {"post"},
        "/email/change/": {"post"},
    }  # register/confirm/<token>/ is an HTML page with a form, not a JSON endpoint
    paths = document["paths"]
    assert {"tokenAuth": []} in paths["/sessions/"]["get"]["security"]
    # Login and registration take no token.
    assert paths["/login/"]["post"]["security"] == [{}]
    assert paths["/csrf/"]["get"]["security"] == [{}]
    assert set(paths["/login/"]["post"]["responses"]) >= {"200"}
    login_body = paths["/login/"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert document["components"]["schemas"][login_body.rsplit("/", 1)[-1]]["required"] == ["password", "username"]
    session = document["components"]["schemas"]["Session"]["properties"]
    assert set(session) == {"id", "client", "created", "expiry", "last_used", "user_agent", "ip_address",
                            "is_current", "has_expired", "expires_in_str"}


def test_openapi_describes_the_password_endpoints(tmp_path, db):
    path = tmp_path / "openapi.yaml"
    call_command("spectacular", "--urlconf", "gql_authtoken.urls", "--validate", "--fail-on-warn",
                 "--file", str(path))
    document = yaml.safe_load(path.read_text())
    paths, schemas = document["paths"], document["components"]["schemas"]

    def body(path):
        ref = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return set(schemas[ref.rsplit("/", 1)[-1]]["properties"])

    assert body("/password/change/") == {"old_password", "new_password"}
    assert body("/password/reset/") == {"email"}
    assert body("/password/reset/confirm/") == {"token", "new_password"}
    assert {"tokenAuth": []} in paths["/password/change/"]["post"]["security"]
    assert set(paths["/password/change/"]["post"]["responses"]) >= {"200", "400", "401", "429"}
    # Reset and its confirmation take no token: a stale one must not stop anyone.
    assert paths["/password/reset/"]["post"]["security"] == [{}]
    assert paths["/password/reset/confirm/"]["post"]["security"] == [{}]
    assert set(paths["/password/reset/"]["post"]["responses"]) == {"200", "429"}
    assert set(paths["/password/reset/confirm/"]["post"]["responses"]) == {"200", "400", "429"}
