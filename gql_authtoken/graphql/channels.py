"""Subscriptions over WebSocket (Django Channels) with the token from ``connection_init``.

Needs ``channels``. Route WebSockets to ``TokenAuthGraphQLWSConsumer``::

    websocket_urlpatterns = [re_path(r"^graphql/$", TokenAuthGraphQLWSConsumer.as_asgi(schema=schema))]

Clients send ``{"Authorization": "Token <token>"}`` as the ``connection_init``
payload. A bad, revoked or expired token closes the connection with the
protocol's "Forbidden" code (4403 in graphql-transport-ws), its payload
naming the code; no token connects anonymously, and fields that need a user
then answer ``not_authenticated``. The token is checked when the connection
opens; revoking it later takes effect on the next connection.
"""

from __future__ import annotations

from typing import Any

from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET

from ..middleware import CONNECTION_SCOPE_KEY, aauthenticate_header


class TokenAuthGraphQLWSConsumer(GraphQLWSConsumer):
    async def on_ws_connect(self, context: Any) -> Any:
        params = context.get("connection_params")
        header = params.get("Authorization") if isinstance(params, dict) else None
        result = await aauthenticate_header(str(header)) if header else None
        if result is not None and result.error is not None:
            raise ConnectionRejectionError({"code": result.error.code, "message": str(result.error.message)})
        consumer = context["request"]
        consumer.scope[CONNECTION_SCOPE_KEY] = result
        if result is not None:
            consumer.scope["user"] = result.user
        return UNSET
