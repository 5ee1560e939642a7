"""Core errors to GraphQL, in one place; unexpected errors masked and logged.

Mutations return them as strawberry-django's ``OperationInfo`` (message with
``code``); fields that cannot return ``OperationInfo`` raise ``AuthFailure``, a
``GraphQLError`` whose ``extensions.code`` is the same code. Any other
exception is a bug: the client sees "Unexpected error." and the server log
gets its type, path and traceback, never the operation's text.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.base import StrawberryOptional
from strawberry.types.union import StrawberryUnion
from strawberry.utils.str_converters import to_camel_case
from strawberry_django.fields.types import OperationInfo, OperationMessage

from ..exceptions import AuthTokenError, NotAuthenticated, PermissionDenied

F = TypeVar("F", bound=Callable[..., Any])

# Strawberry's own error logger, so logging configured for Strawberry applies.
logger = logging.getLogger("strawberry.execution")


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
        OperationMessage(kind=kind, message=str(e.message), field=graphql_field(e.field), code=e.code)
        for e in error.field_errors()
    ])


def graphql_field(field: str | None) -> str | None:
    """The GraphQL name of a core argument: ``new_email`` is ``newEmail``, as strawberry-django
    names its own field errors (REST keeps the core's snake_case)."""
    return to_camel_case(field) if field else None


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


# Errors that answer the client: GraphQL's own, the core's, and Strawberry's refusal of an
# operation type (a query or mutation over the legacy graphql-ws protocol, which carries
# subscriptions only; "mutations are not allowed").
_ANSWERS = (GraphQLError, AuthTokenError, InvalidOperationTypeError, CannotGetOperationTypeError)


def is_unexpected_error(error: GraphQLError) -> bool:
    """Whether ``error`` is a bug: an exception raised by code that is neither a
    ``GraphQLError`` nor a core ``AuthTokenError``.

    Syntax and validation errors (no original error), the package's auth
    failures and ``GraphQLError`` instances an app raises on purpose are
    answers to the client; anything else may carry internals in its text.
    """
    original = error.original_error
    return original is not None and not isinstance(original, _ANSWERS)


class MaskUnexpectedErrors(MaskErrors):
    """Strawberry's ``MaskErrors``, masking only unexpected errors (``is_unexpected_error``).

    Add it to a plain ``strawberry.Schema`` with ``extensions=[MaskUnexpectedErrors]``;
    ``gql_authtoken.graphql.Schema`` has it already.
    """

    def __init__(self, error_message: str = "Unexpected error.") -> None:
        super().__init__(should_mask_error=is_unexpected_error, error_message=error_message)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        # A core error raised by an app's own resolver (``current_user(info)`` in a field with no
        # permission extension) reaches graphql-core bare: it gets its code as the package's do.
        for error in errors:
            original = error.original_error
            if isinstance(original, AuthTokenError) and "code" not in (error.extensions or {}):
                error.extensions = {**(error.extensions or {}), "code": original.code}
        return super()._process_errors(errors)


class QuietAuthErrorsMixin:
    """Schema mixin: log unexpected errors only, and never the operation's text.

    ``class Schema(QuietAuthErrorsMixin, strawberry.Schema)``. Strawberry logs
    every error as ``str(error)``, which quotes the operation's source around
    it: inline arguments such as a password. This logs an unexpected error
    (``is_unexpected_error``) with its type, path and traceback (as text: no
    frame locals, which hold the arguments) instead. The
    others are answers to the client, not server errors, and are not logged:
    expected auth failures, syntax and validation errors (whose messages may
    quote argument values) and ``GraphQLError`` instances raised on purpose.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            if is_unexpected_error(error):
                original = error.original_error
                where = "GraphQL field " + ".".join(map(str, error.path)) if error.path else "the GraphQL operation"
                # The traceback as text, not ``exc_info``: a handler such as Django's
                # AdminEmailHandler would render every frame's locals, and the resolvers'
                # and graphql-core's frames hold the arguments (passwords, reset tokens).
                trace = "".join(traceback.format_exception(original))
                logger.error("Unexpected %s in %s\n%s", type(original).__name__, where, trace)
