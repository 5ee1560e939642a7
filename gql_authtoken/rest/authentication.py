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
    ``WWW-Authenticate: Token`` on failure. Looks the token up in the database
    (one query) unless the middleware already resolved it for this request,
    which it reuses: the token is read once per request.
    """

    keyword = "Token"
    use_cache = False

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = get_token_auth(request._request, use_cache=self.use_cache)
        if result is None:
            return None
        if result.error is not None:
            raise api_exception(result.error)
        return result.token.user, result.token  # type: ignore[union-attr]

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class CachedTokenAuthentication(TokenAuthentication):
    """``TokenAuthentication`` through the token cache: no SQL query on a hit.

    Never stale: revocation, refresh, rotation and user changes take effect on
    the next request (see ``gql_authtoken.cache``). ``TOKEN_CACHE_TIMEOUT = 0``
    turns the cache off.
    """

    use_cache = True
