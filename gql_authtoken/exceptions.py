"""One hierarchy of expected failures, each with a stable ``code``.

The core raises these; the GraphQL and REST adapters translate them, each in
one place (``graphql/errors.py``, ``rest/errors.py``). Messages never contain a
token or any other secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

if TYPE_CHECKING:
    from django.core.exceptions import ValidationError
    from django_stubs_ext import StrOrPromise  # str or a lazy translation


class AuthTokenError(Exception):
    code: str = "error"
    default_message = _("The request could not be completed.")

    def __init__(self, message: StrOrPromise | None = None, *, field: str | None = None):
        self.message: StrOrPromise = message if message is not None else self.default_message
        self.field = field
        super().__init__(str(self.message))

    def field_errors(self) -> list[FieldError]:
        """Every message of this error; one unless it is a ``ValidationFailed``."""
        return [FieldError(field=self.field, message=self.message, code=self.code)]


@dataclass(frozen=True)
class FieldError:
    field: str | None
    message: Any
    code: str


class InvalidCredentials(AuthTokenError):
    code = "invalid_credentials"
    default_message = _("Unable to log in with provided credentials.")


class InactiveUser(AuthTokenError):
    code = "inactive_user"
    default_message = _("User account is disabled.")


class NotAuthenticated(AuthTokenError):
    code = "not_authenticated"
    default_message = _("Authentication credentials were not provided.")


class InvalidToken(NotAuthenticated):
    code = "invalid_token"
    default_message = _("Invalid token.")


class TokenExpired(InvalidToken):
    code = "token_expired"
    default_message = _("Token has expired.")


class InvalidTokenHeader(InvalidToken):
    """A malformed ``Authorization`` header; the message says what is wrong (as DRF)."""


class UnknownClient(AuthTokenError):
    code = "unknown_client"
    default_message = _("Unknown client.")


class SessionNotFound(AuthTokenError):
    code = "session_not_found"
    default_message = _("Session not found.")


class ApiAccessUnavailable(AuthTokenError):
    """``API_ACCESS_CLIENT_NAME`` is unset or names no ``Client`` row (REST: 404)."""

    code = "not_found"
    default_message = _("API access is not available.")


class ApiKeyNotFound(AuthTokenError):
    code = "not_found"
    default_message = _("You have no API key.")


class PermissionDenied(AuthTokenError):
    code = "permission_denied"
    default_message = _("You do not have permission to perform this action.")


class CsrfFailed(PermissionDenied):
    """A request authenticated by the §11 cookie failed Django's CSRF check (worded as DRF words it)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(_("CSRF Failed: %(reason)s") % {"reason": reason})


class RegistrationDisabled(AuthTokenError):
    code = "registration_disabled"
    default_message = _("Registration is disabled.")


class InvalidConfirmationToken(AuthTokenError):
    code = "invalid_confirmation_token"
    default_message = _("The confirmation link is invalid or has expired.")


class InvalidResetToken(AuthTokenError):
    """``resetPassword`` with a malformed, unknown, used, expired or stale token (API.md §10)."""

    code = "invalid_reset_token"
    default_message = _("The password reset link is invalid or has expired.")


class Throttled(AuthTokenError):
    code = "throttled"
    default_message = _("Too many attempts.")

    def __init__(self, wait: float | None = None):
        self.wait = wait
        message: StrOrPromise
        if wait is None:
            message = self.default_message
        else:
            message = ngettext_lazy("Too many attempts. Try again in %(seconds)d second.",
                                    "Too many attempts. Try again in %(seconds)d seconds.",
                                    "seconds") % {"seconds": self.retry_after}
        super().__init__(message)

    @property
    def retry_after(self) -> int | None:
        """Whole seconds to wait, at least 1 (a ``Retry-After`` value); None when unknown."""
        return None if self.wait is None else max(1, int(self.wait + 0.999))


class ValidationFailed(AuthTokenError):
    """Input errors by field (``register``, ``create_client``); codes are Django's
    (``unique``, ``required``, ``invalid``, the password validators' own codes)."""

    code = "invalid"
    default_message = _("Please correct the errors below.")

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__(errors[0].message if errors else None, field=errors[0].field if errors else None)

    def field_errors(self) -> list[FieldError]:
        return list(self.errors)


def field_errors(error: ValidationError, field: str) -> list[FieldError]:
    """Django's ``ValidationError`` as ``FieldError``s of ``field`` (its codes; ``invalid`` when it has none)."""
    return [FieldError(field=field, message=e.message % (e.params or {}), code=e.code or "invalid")
            for e in error.error_list]
