"""Logging in: credentials checked by Django's backends, throttled per call (API.md §8), and a token issued."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, get_user_model, user_logged_in
from django.contrib.auth.hashers import make_password
from django.core.exceptions import MultipleObjectsReturned
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from . import attempts, callers, identities, models, primary, throttling, tokens
from .conf import auth_settings
from .exceptions import InactiveUser, InvalidCredentials, UnknownClient
from .models import Client
from .throttling import Counted, throttle

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")


@sensitive_variables("password", "issued")
def login(
    request: HttpRequest | None,
    *,
    username: str,
    password: str,
    client: Client | None = None,
    choose_client: Callable[[Any], Client | None] | None = None,
) -> tokens.IssuedToken:
    """Check credentials with Django's backends and issue a token (``get_client`` first).

    ``choose_client(user)``, when given, is called once the credentials are
    right and before the token is issued, and its ``Client`` is used instead of
    ``client``: django-rest-durin's ``LoginView`` picks the client knowing the
    user. Whatever it raises ends the login with no token issued.

    A username or password that ``inputs`` refuses fails as wrong credentials
    do, counted for the client IP only, before any lookup or hash. Otherwise
    the username is normalised as ``register`` stored it
    (``identities.normalize_username``), and the call is throttled before any
    password is checked (``_throttle_login``).

    Raises ``InvalidCredentials``, ``InactiveUser``, ``Throttled``, and ``UnknownClient`` when
    ``client`` was deleted meanwhile (inside a transaction: before anything is counted; for the
    client ``choose_client`` picks inside a transaction, also while its deletion is under way:
    ``models.hold_client``'s ``nowait``) or is the client of API keys (``_refuse_api_access_client``).
    """
    rate = auth_settings.LOGIN_THROTTLE_RATE
    if attempts.refused_input("login", request, rate, username=username, password=password):
        raise InvalidCredentials()
    username = identities.normalize_username(username)
    _refuse_api_access_client(client)
    # Inside a transaction (``ATOMIC_REQUESTS``) the user's row lock taken by a password hash
    # that Django upgrades in ``authenticate`` lasts to the commit: the client is held first,
    # as ``issue_token`` holds it (``models.hold_client`` says why).
    atomic = client is not None and primary.in_transaction(primary.alias(get_user_model()))
    if atomic and not models.hold_client(client):
        raise UnknownClient()  # deleted since the caller found it: nothing counted
    account, failure = _throttle_login(request, username)
    # Sends ``user_login_failed`` itself when every backend refuses. The backends read the
    # user where the router says: ``reading_primary`` lets a router read the primary (``primary``).
    try:
        with primary.reading_primary():
            user = authenticate(request, username=username, password=password)
    except MultipleObjectsReturned:
        # Accounts that differ only in case, made before registration refused them,
        # and a case-insensitive get_by_natural_key: no account is "the" one.
        logger.warning("Login refused: several accounts match one username; merge or rename them")
        raise InvalidCredentials() from None  # counted as a failure, as any refused login
    if user is None:
        _raise_login_failure(account, password, failure)
    failure.refund()  # the password matched: no failure
    if not getattr(user, "is_active", True):  # a backend that lets inactive users through
        raise InactiveUser()
    if choose_client is not None:
        client = choose_client(user)
        _refuse_api_access_client(client)
        # Known only now, perhaps after the user's lock (an upgraded hash): a deletion of the
        # client holding it would wait for that lock, so this does not wait for the deletion.
        if primary.in_transaction(primary.alias(get_user_model())) and not models.hold_client(client, nowait=True):
            raise UnknownClient()
    with transaction.atomic():  # a receiver that fails leaves no token that nobody holds
        issued = tokens.issue_token(user, client=client, request=request, password_hash=user.password,
                                    password=password)
        user_logged_in.send(sender=user.__class__, request=request, user=user)
    return issued


def _refuse_api_access_client(client: Client | None) -> None:
    """``UnknownClient`` for the client of API keys (``API_ACCESS_CLIENT_NAME``): its tokens come
    from ``apiaccess/`` only, one per user and replacing the last, and may be left out of the
    sessions list; a login naming it would mint more of them, unseen there."""
    name = auth_settings.API_ACCESS_CLIENT_NAME
    if client is not None and name and client.name == name:
        raise UnknownClient()


def _throttle_login(request: HttpRequest | None, username: str) -> tuple[Any, Counted]:
    """Count a login attempt (API.md §8); the account the username reaches (or None) and
    the attempt's reservation in that account's failure buckets.

    ``LOGIN_THROTTLE_RATE`` limits attempts per client IP, counted first: a
    full IP bucket refuses the call before anything is looked up or counted.
    That bucket also bounds the attempts on each account from the IP (they are
    among its attempts), so no (account, IP) attempt counter of its own is kept.

    ``LOGIN_ACCOUNT_THROTTLE_RATE`` limits failures on one account from all
    addresses together, so a guess spread over many addresses is still capped;
    and one address may use at most half of it (``throttling.throttle_identity``), so no
    single address can use it up and lock the rightful user out at another.
    Each attempt is counted as a failure up front and refunded once the
    password matches, so concurrent guesses cannot overshoot either cap.
    Names that reach no account get the same buckets (their folded name), so
    throttling tells nobody which accounts exist.
    """
    ip = throttling.ip_bucket(callers.client_ip(request))
    throttle("login", [ip], auth_settings.LOGIN_THROTTLE_RATE)
    account = identities.find_account(username)
    identity = throttling.identity_bucket(account, username)
    return account, throttling.throttle_identity("login_failures", identity, ip,
                                                 auth_settings.LOGIN_ACCOUNT_THROTTLE_RATE)


@sensitive_variables("password")
def _raise_login_failure(candidate: Any | None, password: str, failure: Counted) -> NoReturn:
    """Say ``inactive_user`` only when the password of an inactive user matched.

    ``candidate`` is the account the username reaches (``identities.find_account``).
    Django's ModelBackend refuses inactive users without saying why, so the
    password is checked once more here. Every failure pays for this second
    hash (a throwaway one when there is no inactive user to check), so the
    response time does not tell an inactive account from a wrong password or
    an unknown user; compare ModelBackend, which hashes for unknown users.
    A matching password is no failure: its reservation is refunded.
    """
    if candidate is not None and not getattr(candidate, "is_active", True):
        if candidate.check_password(password):
            failure.refund()
            raise InactiveUser()
    else:
        make_password(password)
    raise InvalidCredentials()


alogin = sync_to_async(login)
