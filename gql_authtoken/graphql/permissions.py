"""Permission extensions for an app's own fields: token required, clients allowed or denied."""

from __future__ import annotations

import inspect
from typing import Any

from asgiref.sync import sync_to_async
from strawberry.extensions import FieldExtension
from strawberry.types import Info
from strawberry_django.resolvers import django_resolver

from .. import clients
from ..exceptions import AuthTokenError
from ..models import AuthToken
from .context import request_token
from .errors import refuse


class IsTokenAuthenticated(FieldExtension):
    """The field resolves only for a request with a live token.

    A refusal is an ``OperationInfo`` when the field's type allows one, else a
    GraphQL error with ``extensions.code`` (``not_authenticated``,
    ``invalid_token``, ``token_expired``, ``permission_denied``).
    """

    def check_token(self, token: AuthToken) -> None:
        """Raise a core error to refuse ``token``; subclasses add rules here."""

    def _check(self, info: Info) -> None:
        self.check_token(request_token(info))

    @django_resolver(qs_hook=None)
    def resolve(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            self._check(info)
        except AuthTokenError as error:
            return refuse(error, info.return_type)
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_: Any, source: Any, info: Info, **kwargs: Any) -> Any:
        try:
            await sync_to_async(self._check)(info)
        except AuthTokenError as error:
            return refuse(error, info.return_type)
        result = next_(source, info, **kwargs)
        while inspect.isawaitable(result):
            result = await result
        return result


class _ClientRule(IsTokenAuthenticated):
    rule: str  # the keyword of clients.check_client: "allowed" or "denied"

    def __init__(self, *names: str):
        super().__init__()
        self.names = names

    def check_token(self, token: AuthToken) -> None:
        clients.check_client(token, **{self.rule: self.names})


class AllowClients(_ClientRule):
    """Only tokens of the named clients: ``AllowClients("web", "ios")``."""

    rule = "allowed"


class DenyClients(_ClientRule):
    """Any token except those of the named clients: ``DenyClients("cli")``."""

    rule = "denied"
