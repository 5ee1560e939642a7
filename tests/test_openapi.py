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
