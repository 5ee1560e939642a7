"""drf-spectacular support: the token scheme in generated OpenAPI documents.

Loaded by the app when drf-spectacular is installed (it finds extensions by
subclass). Views describe themselves with ``extend_schema`` (a no-op without
drf-spectacular, see ``schema``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "gql_authtoken.rest.authentication.TokenAuthentication"
    match_subclasses = True  # CachedTokenAuthentication too
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        keywords = " or ".join(f'"{k}"' for k in ("Token", "Bearer"))
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"A token from login/, sent as `Authorization: Token <token>` (keyword {keywords}).",
        }
