"""Counting a caller's attempts at a throttled core call (API.md §8).

The rules of ``throttling`` applied to one call: the caller's IP bucket first,
then the bucket of the identity the call names; input that ``inputs`` refuses
still counts one attempt for the IP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.views.decorators.debug import sensitive_variables

from . import callers, identities, inputs, throttling
from .conf import auth_settings
from .throttling import throttle

if TYPE_CHECKING:
    from django.http import HttpRequest


def throttle_ip(scope: str, request: HttpRequest | None, rate: str | None) -> None:
    """Count the call in the caller's IP bucket (``throttling.ip_bucket``).

    Counted on its own and first: once it is full the call is refused before
    any per-identity counter is created, so a throttled caller trying new names
    cannot grow the cache.
    """
    throttle(scope, [throttling.ip_bucket(callers.client_ip(request))], rate)


def throttle_call(scope: str, request: HttpRequest | None, identity: Callable[[], str], *,
                  owned: bool = False) -> None:
    """Count one call of an account operation against ``ACCOUNT_THROTTLE_RATE`` (API.md §8):
    per client IP first, then per ``identity()``, the bucket of the address, username or
    link (asked only when the IP bucket let the call through; ``""``: none).

    ``owned``: the identity is someone's address or name (a reset mail, a resend, a
    registration), and one address may use at most half of its bucket
    (``throttling.throttle_identity``, as for login failures): nobody at one address can use
    up the calls naming someone's address and so lock its owner out of them at another.
    """
    rate = auth_settings.ACCOUNT_THROTTLE_RATE
    ip = throttling.ip_bucket(callers.client_ip(request))
    throttle(scope, [ip], rate)
    bucket = identity() if rate is not None else ""
    if not bucket:
        return
    if owned:
        throttling.throttle_identity(scope, bucket, ip, rate)
    else:
        throttle(scope, [bucket], rate)


def bucket_of(value: str, find_account: Callable[[str], Any]) -> str:
    """The throttle bucket of a normalised username or address, ``find_account`` the
    account it reaches (``throttling.identity_bucket``); ``""`` (the IP bucket only) when
    empty. Values ``inputs`` refuses never get here."""
    if not value:
        return ""
    return throttling.identity_bucket(find_account(value), value)


@sensitive_variables("arguments")
def refused_input(scope: str, request: HttpRequest | None, rate: str | None, **arguments: Any) -> dict[str, Any]:
    """``inputs.refused(**arguments)`` for a throttled entry point.

    A refused call still counts one attempt for the client IP (no identity: the
    value names none), so it is throttled as any other call is and its answer
    does not stand out from a wrong value's.
    """
    refused = inputs.refused(**arguments)
    if refused:
        throttle_ip(scope, request, rate)
    return refused


def counted_email(scope: str, request: HttpRequest | None, email: str) -> str:
    """Count a call that names an address (resend, reset mail) and give the address normalised
    (``identities.normalize_email``); ``""`` for one ``inputs`` refuses (counted per client IP
    only; the call then mails nobody). Raises ``Throttled``."""
    if refused_input(scope, request, auth_settings.ACCOUNT_THROTTLE_RATE, email=email):
        return ""
    email = identities.normalize_email(email)
    throttle_call(scope, request, lambda: bucket_of(email, identities.find_account_by_email), owned=True)
    return email
