"""Who the GraphQL request is: read from the middleware's per-request result."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info
from strawberry_django.utils.requests import get_request

from ..exceptions import NotAuthenticated
from ..middleware import check_client_rate, request_token_auth
from ..models import AuthToken


def request_user(info: Info) -> tuple[Any, AuthToken | None]:
    """The authenticated user and token (None for a session login) or the core error.

    A request with a token header is that token's user or nobody: an invalid,
    revoked or expired token raises its own error (``invalid_token``,
    ``token_expired``) rather than a bare ``not_authenticated``. A token whose
    client has a ``throttle_rate`` counts the request once against it.
    """
    request = get_request(info)
    result = request_token_auth(request)
    if result is not None:
        if result.error is not None:
            raise result.error
        check_client_rate(request, result.token)  # type: ignore[arg-type]
        return result.token.user, result.token  # type: ignore[union-attr]
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated()
    return user, None


def request_token(info: Info) -> AuthToken:
    """The request's live token; session logins have none."""
    _, token = request_user(info)
    if token is None:
        raise NotAuthenticated()
    return token
