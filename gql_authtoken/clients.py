"""API clients (``Client`` rows): looked up by name, created, their TTL, permissions and rate."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from . import inputs, primary
from .conf import auth_settings
from .exceptions import (
    FieldError,
    NotAuthenticated,
    PermissionDenied,
    UnknownClient,
    ValidationFailed,
    field_errors,
)
from .models import AuthToken, Client, validate_throttle_rate, validate_token_ttl
from .throttling import throttle

logger = logging.getLogger("gql_authtoken")


def get_client(name: str | None) -> Client | None:
    """The ``Client`` called ``name``; None for no name. Clients never come from input.

    A name no ``Client`` could have (``inputs.refused``) is unknown without a query.
    """
    if not name:
        return None
    if inputs.refused(client=name):
        raise UnknownClient()
    try:
        return primary.manager(Client).get(name=name)  # a replica may not have it yet
    except Client.DoesNotExist:
        raise UnknownClient() from None


def token_ttl(client: Client | None) -> timedelta | None:
    """How long a token of ``client`` lives (None: forever).

    A TTL the model's validator refuses, stored some other way (SQL, ``update()``),
    is logged and ignored: such tokens get ``DEFAULT_TOKEN_TTL``, never a 500.
    """
    if client is None:
        return auth_settings.DEFAULT_TOKEN_TTL
    try:
        validate_token_ttl(client.token_ttl)
    except ValidationError:
        logger.warning("Client %r has an invalid token_ttl; DEFAULT_TOKEN_TTL is used instead", client.name)
        return auth_settings.DEFAULT_TOKEN_TTL
    return client.token_ttl


def check_client(
    token: AuthToken | None,
    *,
    allowed: tuple[str, ...] | None = None,
    denied: tuple[str, ...] = (),
) -> None:
    """Refuse a token whose client is not in ``allowed`` or is in ``denied``."""
    if token is None:
        raise NotAuthenticated()
    name = token.client.name if token.client is not None else None
    if (allowed is not None and name not in allowed) or (name is not None and name in denied):
        raise PermissionDenied()


# DRF's throttle scope of ``UserClientRateThrottle``, as django-rest-durin names it.
CLIENT_RATE_SCOPE = "user_per_client"


def default_client_rate() -> str | None:
    """The rate of a token whose client has no ``throttle_rate`` (or that has no client).

    ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user_per_client"]``, where
    django-rest-durin reads it, at every call (so ``override_settings`` works);
    None when unset. An invalid one is logged and ignored (check ``gql_authtoken.E017``).
    """
    rates = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_THROTTLE_RATES") or {}
    rate = rates.get(CLIENT_RATE_SCOPE) or None
    try:
        validate_throttle_rate(rate)
    except ValidationError:
        logger.warning("DEFAULT_THROTTLE_RATES[%r] is not a rate; tokens are not limited by it", CLIENT_RATE_SCOPE)
        return None
    return rate


def client_rate(client: Client | None) -> str | None:
    """How fast each user of ``client`` may send requests: its ``throttle_rate``, else
    ``default_client_rate()``; None: not limited.

    A rate the model's validator refuses, stored some other way, is logged and
    the default used, never a 500.
    """
    if client is not None and client.throttle_rate:
        try:
            validate_throttle_rate(client.throttle_rate)
        except ValidationError:
            logger.warning("Client %r has an invalid throttle_rate; the default rate is used instead", client.name)
        else:
            return client.throttle_rate
    return default_client_rate()


def throttle_client(token: AuthToken) -> None:
    """Count one request against ``client_rate`` of the token's client, per user and client."""
    client = token.client if token.client_id else None
    throttle(CLIENT_RATE_SCOPE, [f"{token.user_id}:{client.pk if client is not None else '-'}"], client_rate(client))


def create_client(name: str, *, token_ttl: timedelta | None, throttle_rate: str | None = None) -> Client:
    """A new ``Client``, checked by the model's validators (``ValidationFailed``, codes
    ``unique`` and ``invalid``): a new name, a DRF rate, a TTL the dates can hold."""
    if refused := inputs.refused(client=name):
        raise ValidationFailed([e for field, error in refused.items() for e in field_errors(error, "name")])
    client = Client(name=name, token_ttl=token_ttl, throttle_rate=throttle_rate or None)
    try:
        client.full_clean()
    except ValidationError as error:
        raise ValidationFailed([e for field, errors in error.error_dict.items()
                                for e in field_errors(ValidationError(errors), field)]) from None
    try:
        with transaction.atomic():
            client.save()
            return client
    except IntegrityError:
        raise ValidationFailed([FieldError("name", _("A client with that name already exists."), "unique")]) \
            from None

