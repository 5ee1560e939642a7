"""The one check of every string argument, before it reaches a database, a hasher or a cache key.

Python strings can hold what none of those take: NUL (PostgreSQL refuses it
in text columns and parameters), unpaired surrogates (a JSON ``"\\ud800"``
escape decodes to one, and no UTF-8 encoder accepts it: hashers, cache keys
and database drivers all encode) and values of any length. Each core entry
point hands its string arguments to ``refused`` before anything else and
answers a refusal as it answers any other wrong value (API.md §5 "Input").
The GraphQL and REST adapters add no rules of their own, so both accept and
refuse exactly the same values.

The limits live here, one per argument name (``max_length``).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from . import crypto
from .models import Client

# The longest password accepted (characters), as DRF's and Django's password
# fields have long used: more only costs the hasher time.
PASSWORD_MAX_LENGTH = 4096

# Session ids are ``str(pk)`` of a BigAutoField: at most 19 digits.
SESSION_ID_MAX_LENGTH = 19

# Any surrogate code point in a ``str`` is unpaired: a JSON surrogate pair
# decodes to the one character it encodes.
_SURROGATE = re.compile("[\ud800-\udfff]")


# An operation's name (GraphQL spec, 2.1.9 Names): no other operationName, and none that the
# query does not contain, can name an operation in it; Strawberry's 400 for an unknown name
# echoes it whole (a NUL, a surrogate, a megabyte).
_GRAPHQL_NAME = re.compile("[_A-Za-z][_0-9A-Za-z]*")


def has_surrogates(value: str) -> bool:
    """Whether ``value`` holds an unpaired surrogate: no UTF-8 encoder (a response, a close reason,
    a database driver) takes it."""
    return _SURROGATE.search(value) is not None


def graphql_operation_problem(operation: dict[str, Any], *, query_required: bool) -> str | None:
    """Why ``operation`` is not one GraphQL request's parameters as GraphQL over HTTP defines them
    (``query`` a string, ``operationName`` a GraphQL name or null, ``variables`` and
    ``extensions`` objects or null), or None. The one rule for HTTP bodies, multipart uploads and
    WebSocket ``subscribe`` / ``start`` payloads: Strawberry takes the shape for granted in places
    (a batch with a query that is no string, a WebSocket payload of the wrong type) and fails with
    a 500 or an ASGI error; it echoes an unknown ``operationName`` in its 400 (a NUL, a megabyte,
    an unpaired surrogate, on which it fails with a 500). ``query_required``: a missing ``query``
    is refused too (over HTTP Strawberry answers that with its own 400)."""
    query, name = operation.get("query"), operation.get("operationName")
    if not isinstance(query, str) and (query_required or query is not None):
        return "An operation's query must be a string."
    if name is not None and not isinstance(name, str):
        return "An operation's operationName must be a string or null."
    if name is not None and not (_GRAPHQL_NAME.fullmatch(name) and (not isinstance(query, str) or name in query)):
        return "An operation's operationName must be the name of an operation in its query, or null."
    for field in ("variables", "extensions"):
        if not isinstance(operation.get(field), dict | None):
            return f"An operation's {field} must be an object or null."
    return None


def max_length(argument: str) -> int | None:
    """The most characters the argument called ``argument`` may have; None for no limit.

    Usernames and emails: the user model's field (``USERNAME_FIELD``, the email
    field); client names: ``Client.name``; passwords (``password``, ``old_password``,
    ``new_password``): ``PASSWORD_MAX_LENGTH``;
    tokens: ``crypto.MAX_TOKEN_LENGTH``; session ids: ``SESSION_ID_MAX_LENGTH``.
    Raises ``ValueError`` for a name with no limit defined here.
    """
    match argument:
        case "username":
            user_model: Any = get_user_model()
            return _field_max_length(user_model, user_model.USERNAME_FIELD)
        case "email":
            user_model = get_user_model()
            return _field_max_length(user_model, user_model.get_email_field_name())
        case "password" | "old_password" | "new_password":
            return PASSWORD_MAX_LENGTH
        case "client":
            return _field_max_length(Client, "name")
        case "token":
            return crypto.MAX_TOKEN_LENGTH
        case "session_id":
            return SESSION_ID_MAX_LENGTH
    raise ValueError(f"no input limit for the argument {argument!r}")


def _field_max_length(model: Any, name: str) -> int | None:
    try:
        return getattr(model._meta.get_field(name), "max_length", None)
    except FieldDoesNotExist:  # e.g. a user model without an email field
        return None


@sensitive_variables("value")  # a password, or a token
def text_error(value: object, *, max_length: int | None) -> ValidationError | None:
    """Why ``value`` may not be used (a ``ValidationError``, code ``invalid``), or None when it may.

    Refused: anything but a ``str``, more than ``max_length`` characters, NUL,
    unpaired surrogates. The messages never quote the value (it may be a password).
    """
    if not isinstance(value, str):
        return ValidationError(_("Enter a valid value."), code="invalid")
    if max_length is not None and len(value) > max_length:
        # Django's own message (and its translations), with our code.
        return ValidationError(MaxLengthValidator.message, code="invalid",
                               params={"limit_value": max_length, "show_value": len(value)})
    if "\x00" in value:
        return ValidationError(_("Null characters are not allowed."), code="invalid")
    if _SURROGATE.search(value):
        return ValidationError(_("Enter a valid value."), code="invalid")
    return None


@sensitive_variables("arguments", "value")
def refused(**arguments: object) -> dict[str, ValidationError]:
    """The ``arguments`` that may not be used, by name, each with why (``text_error``).

    Each is checked against the limit of its name (``max_length``); None (an
    optional argument left out) always passes. An empty dict: all may be used.
    """
    errors = {}
    for name, value in arguments.items():
        if value is None:
            continue
        error = text_error(value, max_length=max_length(name))
        if error is not None:
            errors[name] = error
    return errors


def session_pk(session_id: object) -> int | None:
    """The primary key a session id names, or None when it names none.

    Session ids are handed out as ``str(pk)``, so only ASCII digits name one;
    ``int()`` alone would also read ``" 7"``, ``"7_0"`` or a fullwidth ``"７"``.
    An int is taken as it is written.
    """
    if isinstance(session_id, int) and not isinstance(session_id, bool):
        session_id = str(session_id)
    if not isinstance(session_id, str) or refused(session_id=session_id):
        return None
    return int(session_id) if session_id.isascii() and session_id.isdigit() else None


def sanitized(value: str, *, max_length: int | None) -> str:
    """``value`` made storable, for request metadata that is recorded, never refused
    (the user agent of a login): NUL and surrogates become U+FFFD, and it is cut
    to ``max_length`` characters (None: not cut)."""
    return _SURROGATE.sub("\ufffd", value.replace("\x00", "\ufffd"))[:max_length]
