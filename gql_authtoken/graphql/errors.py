"""Core errors to GraphQL, in one place.

Mutations return them as strawberry-django's ``OperationInfo`` (message with
``code``); fields that cannot return ``OperationInfo`` raise ``AuthFailure``, a
``GraphQLError`` whose ``extensions.code`` is the same code.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from graphql import GraphQLError
from strawberry.types.base import StrawberryOptional
from strawberry.types.union import StrawberryUnion
from strawberry_django.fields.types import OperationInfo, OperationMessage

from ..exceptions import AuthTokenError, NotAuthenticated, PermissionDenied

F = TypeVar("F", bound=Callable[..., Any])


class AuthFailure(GraphQLError):
    """An expected authentication or permission failure (not a server error)."""


def operation_info(error: AuthTokenError) -> OperationInfo:
    if isinstance(error, (NotAuthenticated, PermissionDenied)):
        kind = OperationMessage.Kind.PERMISSION
    elif error.field:
        kind = OperationMessage.Kind.VALIDATION
    else:
        kind = OperationMessage.Kind.ERROR
    return OperationInfo(messages=[
        OperationMessage(kind=kind, message=str(e.message), field=e.field, code=e.code)
        for e in error.field_errors()
    ])


def graphql_error(error: AuthTokenError) -> AuthFailure:
    return AuthFailure(str(error.message), extensions={"code": error.code}, original_error=error)


def returns_operation_info(return_type: Any) -> bool:
    if isinstance(return_type, StrawberryOptional):
        return_type = return_type.of_type
    return isinstance(return_type, StrawberryUnion) and any(
        isinstance(t, type) and issubclass(t, OperationInfo) for t in return_type.types
    )


def refuse(error: AuthTokenError, return_type: Any) -> OperationInfo:
    """``OperationInfo`` where the field's type allows it; otherwise raise ``AuthFailure``."""
    if returns_operation_info(return_type):
        return operation_info(error)
    raise graphql_error(error) from error


def as_operation_info(resolver: F) -> F:
    """Turn the core's expected errors raised by ``resolver`` into ``OperationInfo``."""

    @functools.wraps(resolver)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return resolver(*args, **kwargs)
        except AuthTokenError as error:
            return operation_info(error)

    return wrapper  # type: ignore[return-value]


class QuietAuthErrorsMixin:
    """Schema mixin: do not log expected auth failures as server errors.

    ``class Schema(QuietAuthErrorsMixin, strawberry.Schema)``; every other error
    is logged as Strawberry logs it.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [e for e in errors if not isinstance(e.original_error, (AuthFailure, AuthTokenError))]
        super().process_errors(unexpected, execution_context)  # type: ignore[misc]
