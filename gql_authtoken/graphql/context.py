"""Who the GraphQL request is, and the Django request the core is given."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from strawberry.types import Info
from strawberry_django.utils.requests import get_request

from ..exceptions import NotAuthenticated
from ..middleware import check_client_rate, request_token_auth
from ..models import AuthToken

# Where a WebSocket connection's scope keeps the HttpRequest built from it.
CONNECTION_REQUEST_KEY = "gql_authtoken.request"


def http_request(info: Info) -> HttpRequest:
    """The Django request of this operation: what the core reads the IP, user agent and language from.

    Over HTTP, the view's request. Over a WebSocket, Strawberry's request is the
    Channels consumer, which has no ``META``; every resolver gets instead one
    ``HttpRequest`` per connection, built from its scope.
    """
    request = get_request(info)
    scope = getattr(request, "scope", None)
    if isinstance(request, HttpRequest) or not isinstance(scope, dict) or scope.get("type") != "websocket":
        return request
    return connection_request(scope)


def connection_request(scope: dict[str, Any]) -> HttpRequest:
    """The ``HttpRequest`` of a WebSocket connection, built from its scope once.

    Django's ``ASGIRequest`` fills ``META`` as it does for HTTP: ``REMOTE_ADDR``
    from ``scope["client"]``, the handshake's headers as ``HTTP_*`` (so
    ``CLIENT_IP_HEADER``, ``HTTP_USER_AGENT`` and cookies work the same).
    """
    request = scope.get(CONNECTION_REQUEST_KEY)
    if request is None:
        request = ASGIRequest({**scope, "method": "GET"}, BytesIO())  # the handshake is a GET
        # The live scope rather than the copy: the connection's token result,
        # replaced at every re-check, is read from it (middleware.request_token_auth).
        request.scope = scope
        scope[CONNECTION_REQUEST_KEY] = request
    return request


def request_user(info: Info) -> tuple[Any, AuthToken | None]:
    """The authenticated user and token (None for a session login) or the core error.

    A request with a token header is that token's user or nobody: an invalid,
    revoked or expired token raises its own error (``invalid_token``,
    ``token_expired``) rather than a bare ``not_authenticated``. A token whose
    client has a ``throttle_rate`` counts the request once against it.
    """
    request = http_request(info)
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
    """The request's live token; session logins have none (``NotAuthenticated``, which tells a
    session user that a token is needed: the credentials they sent are not the kind asked for)."""
    user, token = request_user(info)
    if token is None:
        if getattr(user, "is_authenticated", False):
            raise NotAuthenticated(_("A token is needed here: a session login is not enough."))
        raise NotAuthenticated()
    return token


def current_user(info: Info) -> Any:
    """The user of this operation, over HTTP or a WebSocket: for an app's own resolvers.

    ``info.context.request.user`` exists only over HTTP (over a WebSocket the
    request is the Channels consumer). Raises the core's ``NotAuthenticated`` /
    ``InvalidToken`` / ``TokenExpired`` when there is no user; fields guarded by
    ``IsTokenAuthenticated`` never see that. Sync code: in an async resolver,
    ``await sync_to_async(current_user)(info)``.
    """
    user, _token = request_user(info)
    return user
