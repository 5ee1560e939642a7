"""The Strawberry adapter: merge ``AuthQuery`` / ``AuthMutation`` into your schema."""

import strawberry

from .errors import AuthFailure, QuietAuthErrorsMixin, operation_info
from .permissions import AllowClients, DenyClients, IsTokenAuthenticated
from .schema import AuthMutation, AuthQuery, AuthTypes, make_auth_types
from .types import LogoutResult, RefreshResult, ResendResult, Session, User


class Schema(QuietAuthErrorsMixin, strawberry.Schema):
    """``strawberry.Schema`` that does not log expected auth failures as errors."""


__all__ = [
    "AllowClients",
    "AuthFailure",
    "AuthMutation",
    "AuthQuery",
    "AuthTypes",
    "DenyClients",
    "IsTokenAuthenticated",
    "LogoutResult",
    "QuietAuthErrorsMixin",
    "RefreshResult",
    "ResendResult",
    "Schema",
    "Session",
    "User",
    "make_auth_types",
    "operation_info",
]
