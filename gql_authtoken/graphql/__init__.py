"""The Strawberry adapter: merge ``AuthQuery`` / ``AuthMutation`` into your schema."""

from typing import Any

import strawberry

from .context import current_user
from .errors import AuthFailure, MaskUnexpectedErrors, QuietAuthErrorsMixin, is_unexpected_error, operation_info
from .permissions import AllowClients, DenyClients, IsTokenAuthenticated
from .schema import AuthMutation, AuthQuery, AuthTypes, make_auth_types
from .types import (
    ChangeEmailResult,
    ChangePasswordResult,
    LogoutResult,
    RefreshResult,
    ResendResult,
    ResetPasswordResult,
    SendPasswordResetEmailResult,
    Session,
    User,
)


class Schema(QuietAuthErrorsMixin, strawberry.Schema):
    """``strawberry.Schema`` that masks unexpected errors for the client and logs
    only them, without the operation's text (see ``QuietAuthErrorsMixin``).

    ``MaskUnexpectedErrors`` goes first in ``extensions``, so it is the
    outermost: a masking extension of the project's own (any ``MaskErrors``,
    e.g. ``MaskUnexpectedErrors`` with another ``error_message``) masks first,
    and what it made of an error is no unexpected error any more.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["extensions"] = [MaskUnexpectedErrors, *kwargs.get("extensions", ())]
        super().__init__(*args, **kwargs)


__all__ = [
    "AllowClients",
    "AuthFailure",
    "AuthMutation",
    "AuthQuery",
    "AuthTypes",
    "ChangeEmailResult",
    "ChangePasswordResult",
    "DenyClients",
    "IsTokenAuthenticated",
    "LogoutResult",
    "MaskUnexpectedErrors",
    "QuietAuthErrorsMixin",
    "RefreshResult",
    "ResendResult",
    "ResetPasswordResult",
    "Schema",
    "SendPasswordResetEmailResult",
    "Session",
    "User",
    "current_user",
    "is_unexpected_error",
    "make_auth_types",
    "operation_info",
]
