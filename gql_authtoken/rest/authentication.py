"""DRF authentication classes over the core token lookup."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ..middleware import found_token, get_token_auth
from ..models import AuthToken
from .errors import api_exception


def request_token(request: Request) -> AuthToken | None:
    """The ``AuthToken`` that authenticated ``request``, or None (a session, Basic auth, no token).

    ``request.auth`` when this package's authentication class authenticated the request. When a
    class listed before it did, with the user that ``TokenAuthenticationMiddleware`` set from the
    token (DRF's ``SessionAuthentication`` reads ``request.user``, and gives no ``request.auth``),
    the middleware's token, if it is that user's: the client rules and rates hold all the same.
    """
    if isinstance(request.auth, AuthToken):
        return request.auth
    token = found_token(request._request)
    user = request.user
    if token is None or not getattr(user, "is_authenticated", False) or user.pk != token.user_id:
        return None
    return token


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
