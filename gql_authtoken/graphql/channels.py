"""GraphQL over WebSocket (Django Channels), authenticated by the token from ``connection_init``.

Needs ``channels``. Route WebSockets to ``TokenAuthGraphQLWSConsumer``::

    websocket_urlpatterns = [re_path(r"^graphql/$", TokenAuthGraphQLWSConsumer.as_asgi(schema=schema))]

Clients send ``{"Authorization": "Token <token>"}`` as the ``connection_init``
payload (the key in any case); a payload without that key is authenticated by
the ``AUTH_COOKIE`` cookie of the handshake, when the project sets one (API.md
§11: browser apps never hold the token; Strawberry refuses handshakes from
other origins unless ``allowed_origins`` lists them, so no other site's page
can use the cookie). A bad, revoked or expired token refuses the
connection (4403 "Forbidden" in graphql-transport-ws, a ``connection_error``
in the legacy graphql-ws); no token connects anonymously, and fields that
need a user then answer ``not_authenticated``.

The connection lives only as long as its token: the token is checked again,
through the token cache, before every operation, before every result of a
subscription, and every ``token_recheck_interval`` seconds while the
connection is open. Once it fails (revoked, expired, user deactivated or
deleted) nothing more is sent and the socket closes with 4403, the error's
code (``invalid_token``, ``token_expired``) as the reason. Only the token's
digests are kept, for those checks; the plaintext is dropped once the
connection is authenticated. Mutations work as
over HTTP: resolvers hand the core a request built from the connection's
scope (``context.http_request``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async  # type: ignore[import-untyped]
from django.views.decorators.debug import sensitive_variables
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UNSET

from .. import cookies, inputs, tokens
from ..exceptions import AuthTokenError, InvalidToken
from ..middleware import CONNECTION_SCOPE_KEY, TokenAuthResult, new_client_rate_count
from .context import connection_request

logger = logging.getLogger(__name__)

FORBIDDEN = 4403  # graphql-transport-ws's "Forbidden"; used for both protocols
INTERNAL_ERROR = 1011
TOO_MANY_INITIALISATIONS = 4429  # graphql-transport-ws's code; used for both protocols
MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame's reason may hold (RFC 6455, 5.5)


@sensitive_variables("values")
def connection_token(params: Any) -> str | None:
    """The token in a ``connection_init`` payload; None when it carries none of ours.

    The ``Authorization`` key matches in any case, as HTTP header names do. Two
    keys that differ only by case are refused (``invalid_token``): which one
    the client meant cannot be known, and neither may win silently.
    """
    if not isinstance(params, dict):
        return None
    values = [value for key, value in params.items() if isinstance(key, str) and key.lower() == "authorization"]
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise InvalidToken()
    return tokens.parse_authorization_header(values[0])


def has_single_result(query: Any, operation_name: Any) -> bool:
    """Whether the operation is certainly a query or a mutation (one result, no stream).

    Their result follows the check that admitted them; only a subscription's
    results need a check each. A document that cannot be read here counts as
    a subscription, the safe side (Strawberry reports its errors itself).
    """
    try:
        operation = get_operation_ast(parse(query, no_location=True), operation_name)
    except (GraphQLError, TypeError):
        return False
    return operation is not None and operation.operation is not OperationType.SUBSCRIPTION


def _text(value: Any) -> bool:
    """A string that encodes as UTF-8 (no unpaired surrogates): it can go back out in a close reason."""
    return isinstance(value, str) and not inputs.has_surrogates(value)


# Message types that name an operation (both protocols): they need an "id".
_WITH_ID = frozenset({"subscribe", "start", "complete", "stop"})


def well_formed_message(message: Any) -> bool:
    """Whether ``message`` has the shape graphql-transport-ws and graphql-ws messages share, which
    Strawberry's handlers take for granted: an object with a string ``type``, a string ``id`` where
    the type names an operation, an object ``payload`` (when present, and always for ``subscribe`` /
    ``start``, whose payload is an operation: ``inputs.graphql_operation_problem``). Unknown types
    pass (each protocol answers them itself)."""
    if not isinstance(message, dict) or not _text(message.get("type")):
        return False
    kind = message["type"]
    if ("id" in message or kind in _WITH_ID) and not _text(message.get("id")):
        return False
    payload = message.get("payload")
    if kind in ("subscribe", "start"):
        return isinstance(payload, dict) and inputs.graphql_operation_problem(payload, query_required=True) is None
    return payload is None or isinstance(payload, dict)


class TokenCheckingTransportWSHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws: every ``subscribe`` and every subscription ``next`` waits for a token check."""

    view: TokenAuthGraphQLWSConsumer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streaming_ids: set[str] = set()

    async def handle_subscribe(self, message: Any) -> None:
        if self.view.token_refused:
            return  # the socket is closing (a refused token): Strawberry would close it a second time
        if self.connection_acknowledged:
            if not await self.view.start_operation():
                return
            payload = message["payload"]
            if has_single_result(payload.get("query"), payload.get("operationName")):
                self.streaming_ids.discard(message["id"])
            else:
                self.streaming_ids.add(message["id"])
        await super().handle_subscribe(message)

    async def handle_complete(self, message: Any) -> None:
        self.streaming_ids.discard(message["id"])
        await super().handle_complete(message)

    async def send_message(self, message: Any) -> None:
        if self.view.token_refused:
            return  # the socket is closing: nothing more goes out
        if message["type"] in ("complete", "error"):
            self.streaming_ids.discard(message["id"])
        elif (message["type"] == "next" and message["id"] in self.streaming_ids
              and not await self.view.check_connection_token()):
            return
        await super().send_message(message)


class TokenCheckingWSHandler(BaseGraphQLWSHandler):
    """The legacy graphql-ws (subscriptions only): every ``start`` and every ``data`` waits for a token check."""

    view: TokenAuthGraphQLWSConsumer

    async def handle_start(self, message: Any) -> None:
        if self.view.token_refused:
            return  # the socket is closing (a refused token)
        if self.connection_acknowledged and not await self.view.start_operation():
            return
        await super().handle_start(message)

    async def send_message(self, message: Any) -> None:
        if self.view.token_refused:
            return  # the socket is closing: nothing more goes out
        if message["type"] == "data" and not await self.view.check_connection_token():
            return
        await super().send_message(message)


class TokenAuthGraphQLWSConsumer(GraphQLWSConsumer):
    """Strawberry's Channels consumer, authenticated and kept authenticated by the connection's token."""

    token_recheck_interval: float = 10.0
    """Seconds between checks of an open connection's token, operations or not.

    It bounds how long a revoked token's connection stays open when nothing is
    sent on it; keep it well under 30 (the package's promise).
    """

    graphql_transport_ws_handler_class = TokenCheckingTransportWSHandler
    graphql_ws_handler_class = TokenCheckingWSHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The token's digests (tokens.token_digests): the plaintext is not kept.
        self._digests: tuple[str, str | None] | None = None
        self._recheck_task: asyncio.Task[None] | None = None
        self._initialised = False
        self.token_refused = False

    def decode_json(self, data: str | bytes) -> object:
        """A message as JSON, refused as malformed JSON (as Strawberry answers that: graphql-transport-ws
        closes with 4400, graphql-ws ignores it) when Python's parser cannot read it (nesting deeper
        than it recurses, an integer longer than it converts) or when it is not a message of either
        protocol (``well_formed_message``). Strawberry's handlers would otherwise end the consumer
        with an unhandled error on those."""
        try:
            message = super().decode_json(data)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError):
            raise json.JSONDecodeError("JSON nested too deeply or with a number too long", "", 0) from None
        if not well_formed_message(message):
            raise json.JSONDecodeError("not a graphql-transport-ws or graphql-ws message", "", 0)
        return message

    async def send(self, *args: Any, **kwargs: Any) -> None:
        """Channels' ``send``; a client already gone (uvicorn raises its ``ClientDisconnected``, an
        ``OSError``) is no error: its disconnect ends the connection's operations."""
        try:
            await super().send(*args, **kwargs)
        except OSError:
            logger.debug("A WebSocket client left while a message was sent to it")

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Channels' ``close``, with a reason a close frame can carry (RFC 6455: at most 123 bytes of
        UTF-8): Strawberry puts client text in some (an unknown message type, an operation name)."""
        if reason:
            reason = reason.encode("utf-8", "replace")[:MAX_CLOSE_REASON].decode("utf-8", "ignore")
        try:
            await super().close(code=code, reason=reason)
        except OSError:
            logger.debug("A WebSocket client left before its connection was closed")

    @sensitive_variables("token", "context")  # context["connection_params"] holds the token
    async def on_ws_connect(self, context: Any) -> Any:
        if self._initialised:
            # The legacy graphql-ws accepts any number of connection_init messages:
            # a second one must not swap the identity under running subscriptions.
            await self._refuse(TOO_MANY_INITIALISATIONS, "Too many initialisation requests")
            return UNSET
        self._initialised = True
        try:
            token = connection_token(context.get("connection_params"))
            if token is None:  # no Authorization in the payload: the browser app's cookie, if any
                token = cookies.request_token(connection_request(self.scope))
            digests = None if token is None else tokens.token_digests(token)
            if digests is not None:
                await self._authenticate(digests)
        except AuthTokenError as error:
            self.token_refused = True  # Strawberry closes the socket; nothing else may run or go out
            raise ConnectionRejectionError({"code": error.code, "message": str(error.message)}) from None
        except Exception:  # the database down, say: Strawberry would leave the socket open, unanswered
            logger.exception("Could not check a WebSocket connection's token; closing the connection")
            await self._refuse(INTERNAL_ERROR, "")
            return UNSET
        if token is not None:
            self._digests = digests
            self._recheck_task = asyncio.create_task(self._recheck_periodically())
        return UNSET

    async def start_operation(self) -> bool:
        """Whether a new operation may run: the token is checked, and the
        operation counts anew against its client's ``throttle_rate``."""
        if not await self.check_connection_token():
            return False
        new_client_rate_count(connection_request(self.scope))
        return True

    async def check_connection_token(self) -> bool:
        """Whether the connection may go on: its token, if any, is authenticated again.

        A cached lookup (``tokens.authenticate_digest(use_cache=True)``): no
        query on a cache hit. When it fails the socket is closed with 4403 and
        the error's code as the reason. An unexpected failure (database or
        cache down) closes it too, with 1011: a token that cannot be checked is
        not trusted.
        """
        if self.token_refused:
            return False
        if self._digests is None:
            return True
        try:
            await self._authenticate(self._digests)
        except AuthTokenError as error:
            await self._refuse(FORBIDDEN, error.code)
            return False
        except Exception:
            logger.exception("Could not check a WebSocket connection's token; closing the connection")
            await self._refuse(INTERNAL_ERROR, "")
            return False
        return True

    async def _authenticate(self, digests: tuple[str, str | None]) -> None:
        """Authenticate the token by its digests; the connection's user and token are then the fresh ones."""
        instance = await database_sync_to_async(tokens.authenticate_digest)(*digests, use_cache=True)
        self.scope[CONNECTION_SCOPE_KEY] = TokenAuthResult(token=instance)
        self.scope["user"] = instance.user

    async def _refuse(self, code: int, reason: str) -> None:
        if self.token_refused:
            return  # a concurrent check closed it already
        self.token_refused = True
        await self.close(code=code, reason=reason)

    async def _recheck_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.token_recheck_interval)
            if not await self.check_connection_token():
                return

    async def disconnect(self, code: int) -> None:
        if self._recheck_task is not None:
            self._recheck_task.cancel()
        await super().disconnect(code)
