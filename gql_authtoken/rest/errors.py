"""Core errors to DRF exceptions, in one place."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

from .. import exceptions as core

_NON_FIELD = "non_field_errors"


def api_exception(error: core.AuthTokenError) -> exceptions.APIException:
    message, code = error.message, error.code
    if isinstance(error, core.Throttled):
        throttled = exceptions.Throttled(wait=error.wait, code=code)  # wait gives Retry-After
        throttled.detail = exceptions.ErrorDetail(str(message), code=code)  # our message already says when
        return throttled
    if isinstance(error, core.NotAuthenticated):
        # DRF answers 401 with WWW-Authenticate when the view has a token authenticator.
        return exceptions.AuthenticationFailed(message, code=code)
    if isinstance(error, core.PermissionDenied):
        return exceptions.PermissionDenied(message, code=code)
    if isinstance(error, (core.SessionNotFound, core.RegistrationDisabled, core.ApiAccessUnavailable,
                          core.ApiKeyNotFound)):
        return exceptions.NotFound(message, code=code)
    if isinstance(error, core.UnknownClient):
        return exceptions.ValidationError({"client": [message]}, code=code)
    if isinstance(error, core.InvalidResetToken):
        return exceptions.ValidationError({"token": [message]}, code=code)
    detail: dict[str, list[Any]] = {}
    for field_error in error.field_errors():
        detail.setdefault(field_error.field or _NON_FIELD, []).append(
            exceptions.ErrorDetail(str(field_error.message), code=field_error.code)
        )
    return exceptions.ValidationError(detail)


class JSONParser(parsers.JSONParser):
    """DRF's ``JSONParser``, with JSON nested deeper than Python's parser recurses (``[[[[...`` a
    hundred thousand deep) answered as any other unreadable JSON (400), where DRF lets the
    ``RecursionError`` through as a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the body is nested too deeply.") from None


class CoreErrorsMixin:
    """APIView mixin: the core's expected errors, and bodies DRF cannot read, become DRF responses."""

    def get_parsers(self) -> list[Any]:
        """The project's parsers (``DEFAULT_PARSER_CLASSES``), DRF's ``JSONParser`` replaced by ours."""
        return [JSONParser() if type(parser) is parsers.JSONParser else parser
                for parser in super().get_parsers()]  # type: ignore[misc]

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, core.AuthTokenError):
            exc = api_exception(exc)
        return super().handle_exception(exc)  # type: ignore[misc]
