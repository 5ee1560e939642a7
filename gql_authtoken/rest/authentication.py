"""DRF authentication classes over the core token lookup."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ..middleware import get_token_auth
from .errors import api_exception


class TokenAuthentication(BaseAuthentication):
    """``Authorization: Token <token>`` (or any ``AUTH_HEADER_PREFIXES`` keyword).

    Same header rules and messages as DRF's ``TokenAuthentication``; 401 with
    ``WWW-Authenticate: Token`` on failure. Reuses the middleware's lookup
    when it already ran for this request, so the token is read once.
    """

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = get_token_auth(request._request)
        if result is None:
            return None
        if result.error is not None:
            raise api_exception(result.error)
        return result.token.user, result.token  # type: ignore[union-attr]

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
