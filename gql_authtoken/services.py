"""The core: the only code that writes tokens, sends signals and decides.

Plain Python and the Django ORM; no GraphQL or DRF import. Every entry point
used by a resolver has an async twin (``a``-prefixed) that runs the same sync
code through ``sync_to_async``, so each rule exists once.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, get_user_model, user_logged_in, user_logged_out
from django.contrib.auth.hashers import get_hasher, identify_hasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import FieldDoesNotExist, MultipleObjectsReturned, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from . import cache as token_cache
from . import crypto, email_confirmation, identities, inputs, lookup, signals, throttling
from .conf import auth_settings
from .exceptions import (
    ApiAccessUnavailable,
    ApiKeyNotFound,
    FieldError,
    InactiveUser,
    InvalidConfirmationToken,
    InvalidCredentials,
    InvalidToken,
    InvalidTokenHeader,
    NotAuthenticated,
    PermissionDenied,
    RegistrationDisabled,
    SessionNotFound,
    Throttled,
    TokenExpired,
    UnknownClient,
    ValidationFailed,
)
from .models import AuthToken, Client, lock_user, validate_throttle_rate, validate_token_ttl
from .throttling import Counted, throttle

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest


logger = logging.getLogger("gql_authtoken")


def now() -> datetime:
    """The current time; the one seam tests move the clock with."""
    return timezone.now()


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued or rotated token: the only place the plaintext exists (never in its repr).

    Shaped like django-rest-durin's ``token_obj``: ``token``, ``expiry``, ``user``,
    ``client``, and ``instance`` (the ``AuthToken``).
    """

    token: str = field(repr=False)
    instance: AuthToken

    @property
    def expiry(self) -> datetime | None:
        return self.instance.expiry

    @property
    def user(self) -> Any:
        return self.instance.user

    @property
    def client(self) -> Client | None:
        return self.instance.client


@dataclass(frozen=True)
class Session:
    """An active token as its user sees it, the same in GraphQL and REST."""

    id: str
    client: str | None
    created: datetime
    expiry: datetime | None
    last_used: datetime | None
    user_agent: str
    ip_address: str | None
    is_current: bool

    @classmethod
    def from_token(cls, token: AuthToken, *, current: AuthToken | None = None) -> Session:
        return cls(
            id=str(token.pk),
            client=token.client.name if token.client is not None else None,
            created=token.created,
            expiry=token.effective_expiry(),
            last_used=token.last_used,
            user_agent=token.user_agent,
            ip_address=token.ip_address,
            is_current=current is not None and current.pk == token.pk,
        )


# --- request metadata ---------------------------------------------------------


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's IP address, or None when there is no valid one.

    ``REMOTE_ADDR``, unless ``CLIENT_IP_HEADER`` names a header set by your own
    proxy; then its last address, the one that proxy appended (addresses
    further left come from the client and can be forged). An IPv4-mapped IPv6
    address (``::ffff:203.0.113.9``, what a dual-stack socket reports for an
    IPv4 client) is given as the IPv4 address it carries.
    """
    if request is None:
        return None
    header = auth_settings.CLIENT_IP_HEADER
    value = request.META.get(header, "").split(",")[-1] if header else request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(_without_port(str(value).strip()))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _without_port(value: str) -> str:
    """The address of ``203.0.113.9:1111``, ``[2001:db8::1]:443`` or ``[2001:db8::1]``
    (proxies that append the client's port); other values as they are."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    host, colon, port = value.rpartition(":")
    return host if colon and "." in host and ":" not in host and port.isdigit() else value


def user_agent(request: HttpRequest | None) -> str:
    """The request's ``User-Agent``, as the sessions list shows it (storable, cut to the column)."""
    if request is None:
        return ""
    value = str(request.META.get("HTTP_USER_AGENT", ""))
    return inputs.sanitized(value, max_length=AuthToken._meta.get_field("user_agent").max_length)


# --- clients and expiry -------------------------------------------------------


def get_client(name: str | None) -> Client | None:
    """The ``Client`` called ``name``; None for no name. Clients never come from input.

    A name no ``Client`` could have (``inputs.refused``) is unknown without a query.
    """
    if not name:
        return None
    if inputs.refused(client=name):
        raise UnknownClient()
    try:
        return Client.objects.get(name=name)
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


def compute_expiry(*, created: datetime, start: datetime, client: Client | None) -> datetime | None:
    """``start`` plus the client's TTL, never past ``created + MAX_TOKEN_LIFETIME``."""
    ttl = token_ttl(client)
    expiry = None if ttl is None else start + ttl
    cap = auth_settings.MAX_TOKEN_LIFETIME
    if cap is not None:
        limit = created + cap
        expiry = limit if expiry is None else min(expiry, limit)
    return expiry


# --- issuing ------------------------------------------------------------------


def new_token() -> str:
    return crypto.generate_token(
        length=auth_settings.TOKEN_CHARACTER_LENGTH, prefix=auth_settings.TOKEN_PREFIX
    )


@sensitive_variables("token")
def issue_token(
    user: AbstractBaseUser,
    *,
    client: Client | None = None,
    request: HttpRequest | None = None,
    password_hash: str | None = None,
    session: AuthToken | None = None,
) -> IssuedToken:
    """Create a session for ``user`` and return its token (shown once, stored hashed).

    ``password_hash`` (the hash a login checked) or ``session`` (the token a
    request authenticated with) is the credential the new token rests on: it
    is checked again under the user's row lock, so a password change,
    deactivation or revocation that committed while the caller worked leaves
    no token behind (``InvalidCredentials`` / ``InactiveUser`` /
    ``InvalidToken``). The change's own revocation serialises on the same lock.
    """
    token = new_token()
    with transaction.atomic():
        stored = lock_user(user, *model_fields(user, ("password", "is_active")))
        if password_hash is not None:
            if stored.get("password") != password_hash:
                raise InvalidCredentials()
            if not stored.get("is_active", True):
                raise InactiveUser()
        if session is not None and not AuthToken.objects.filter(pk=session.pk, digest=session.digest).exists():
            raise InvalidToken()
        created = now()
        # django-stubs types the FK as the type-checking settings' own user model; any AUTH_USER_MODEL
        # instance is right here. The instance, not its pk: ``IssuedToken.user`` then needs no query.
        instance = AuthToken.objects.create(  # type: ignore[misc]
            user=user,
            client=client,
            digest=crypto.hash_token(token),
            created=created,
            expiry=compute_expiry(created=created, start=created, client=client),
            last_used=created,
            user_agent=user_agent(request),
            ip_address=client_ip(request),
        )
    return IssuedToken(token=token, instance=instance)


@sensitive_variables("password", "issued")
def login(
    request: HttpRequest | None, *, username: str, password: str, client: Client | None = None
) -> IssuedToken:
    """Check credentials with Django's backends and issue a token (``get_client`` first).

    A username or password that ``inputs`` refuses fails as wrong credentials
    do, counted for the client IP only, before any lookup or hash. Otherwise
    the username is normalised as ``register`` stored it
    (``identities.normalize_username``), and the call is throttled before any
    password is checked (``_throttle_login``).
    """
    if _refused_input("login", request, auth_settings.LOGIN_THROTTLE_RATE, username=username, password=password):
        raise InvalidCredentials()
    username = identities.normalize_username(username)
    account, failure = _throttle_login(request, username)
    # Sends ``user_login_failed`` itself when every backend refuses.
    try:
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
    with transaction.atomic():  # a receiver that fails leaves no token that nobody holds
        issued = issue_token(user, client=client, request=request, password_hash=user.password)
        user_logged_in.send(sender=user.__class__, request=request, user=user)
    return issued


def model_fields(model: Any, names: Any) -> list[str]:
    """Those of ``names`` that are fields of ``model`` (``is_active`` may be a plain attribute)."""
    found = []
    for name in names:
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        found.append(name)
    return found


def _throttle_login(request: HttpRequest | None, username: str) -> tuple[Any, Counted]:
    """Count a login attempt (API.md §8); the account the username reaches (or None) and
    the attempt's reservation in that account's failure buckets.

    ``LOGIN_THROTTLE_RATE`` limits attempts per client IP, counted first: a
    full IP bucket refuses the call before anything is looked up or counted.
    That bucket also bounds the attempts on each account from the IP (they are
    among its attempts), so no (account, IP) attempt counter of its own is kept.

    ``LOGIN_ACCOUNT_THROTTLE_RATE`` limits failures on one account from all
    addresses together, so a guess spread over many addresses is still capped;
    and one address may use at most half of it (``throttling.share_of``), so no
    single address can use it up and lock the rightful user out at another.
    Each attempt is counted as a failure up front and refunded once the
    password matches, so concurrent guesses cannot overshoot either cap.
    Names that reach no account get the same buckets (their folded name), so
    throttling tells nobody which accounts exist.
    """
    ip = throttling.ip_bucket(client_ip(request))
    throttle("login", [ip], auth_settings.LOGIN_THROTTLE_RATE)
    account = identities.find_account(username)
    identity = throttling.identity_bucket(account, username)
    rate = auth_settings.LOGIN_ACCOUNT_THROTTLE_RATE
    share = throttle("login_failures", [f"{identity} from {ip}"], throttling.share_of(rate))
    try:
        return account, share + throttle("login_failures", [identity], rate)
    except Throttled:
        share.refund()  # refused before any password was checked: no failure
        raise


def _throttle_ip(scope: str, request: HttpRequest | None, rate: str | None) -> None:
    """Count the call in the caller's IP bucket (``throttling.ip_bucket``).

    Counted on its own and first: once it is full the call is refused before
    any per-identity counter is created, so a throttled caller trying new names
    cannot grow the cache.
    """
    throttle(scope, [throttling.ip_bucket(client_ip(request))], rate)


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


# --- authenticating -----------------------------------------------------------


@sensitive_variables("value", "parts", "token")
def parse_authorization_header(value: str | bytes) -> str | None:
    """The token in an ``Authorization`` header, None when it is not ours.

    Follows DRF's TokenAuthentication: the keyword (one of
    ``AUTH_HEADER_PREFIXES``) matches case-insensitively, and malformed values
    raise ``InvalidTokenHeader`` with DRF's own messages.
    """
    if isinstance(value, str):
        try:
            value = value.encode("iso-8859-1")  # the HTTP header encoding, as DRF
        except UnicodeEncodeError:
            raise InvalidTokenHeader(
                _("Invalid token header. Token string should not contain invalid characters.")
            ) from None
    parts = value.split()
    keywords = {prefix.lower().encode() for prefix in auth_settings.AUTH_HEADER_PREFIXES}
    if not parts or parts[0].lower() not in keywords:
        return None
    if len(parts) == 1:
        raise InvalidTokenHeader(_("Invalid token header. No credentials provided."))
    if len(parts) > 2:
        raise InvalidTokenHeader(_("Invalid token header. Token string should not contain spaces."))
    try:
        token = parts[1].decode("ascii")
    except UnicodeDecodeError:
        token = None
    if token is None or not token.isprintable():
        raise InvalidTokenHeader(
            _("Invalid token header. Token string should not contain invalid characters.")
        )
    return token


def load_token(digest: str, legacy_digest: str | None = None) -> AuthToken:
    """The ``AuthToken`` with this digest (or an imported row's legacy digest),
    with its user and client, in one query (compiled once, see ``lookup.py``)."""
    found = lookup.fetch_tokens([digest] if legacy_digest is None else [digest, legacy_digest])
    if not found:
        raise InvalidToken()
    if len(found) > 1:  # both forms at once: a new token that is also an imported one, never seen
        raise InvalidToken()
    return found[0]


@sensitive_variables("token")
def token_digests(token: str) -> tuple[str, str | None]:
    """The digests a lookup of ``token`` tries: ours, and the django-rest-authtoken form only when
    ``ACCEPT_REST_AUTHTOKEN_TOKENS`` says such tokens were imported (otherwise it costs nothing)."""
    legacy = crypto.rest_authtoken_digest(token) if auth_settings.ACCEPT_REST_AUTHTOKEN_TOKENS else None
    return crypto.hash_token(token), legacy


@sensitive_variables("token")
def authenticate_token(token: str, *, use_cache: bool = False) -> AuthToken:
    """The live ``AuthToken`` for ``token``: one query, or none on a cache hit.

    The lookup is by digest through a unique index, so its timing depends on
    the digest, never on how much of a real token an attacker guessed.
    Expiry, ``MAX_TOKEN_LIFETIME`` and the user's ``is_active`` are checked on
    cache hits too. Raises ``InvalidToken`` or ``TokenExpired``.
    """
    if inputs.refused(token=token):
        raise InvalidToken()
    return authenticate_digest(*token_digests(token), use_cache=use_cache)


def authenticate_digest(digest: str, legacy_digest: str | None = None, *, use_cache: bool = False) -> AuthToken:
    """``authenticate_token`` for a token known by its digests (``token_digests``): for callers
    that keep no plaintext, such as an open WebSocket connection checking its token again."""
    entry = token_cache.lookup(digest, legacy_digest, load_token) if use_cache and token_cache.enabled() else None
    instance = entry.instance if entry is not None else load_token(digest, legacy_digest)
    current = now()
    if instance.is_expired(current):
        deleted, _per_model = AuthToken.objects.filter(pk=instance.pk).delete()
        if not deleted:  # another request saw it first and said so
            raise InvalidToken()
        signals.token_expired.send(sender=AuthToken, instance=instance, user=instance.user)
        raise TokenExpired()
    if not getattr(instance.user, "is_active", True):
        # An ``invalid_token`` (clients log in again, and then learn
        # ``inactive_user`` once the password matched), worded as DRF words it.
        raise InvalidToken(_("User inactive or deleted."))
    if touch(instance, current) and entry is not None and instance.digest == digest:
        token_cache.update(digest, legacy_digest, entry, load_token)
    return instance


def touch(instance: AuthToken, when: datetime) -> bool:
    """Record use, writing at most once per ``LAST_USED_UPDATE_INTERVAL``.

    Raises ``InvalidToken`` when the row is gone (deleted since it was read
    or cached): recording use never brings a deleted token back.
    """
    interval = auth_settings.LAST_USED_UPDATE_INTERVAL
    if instance.last_used is not None and when - instance.last_used < interval:
        return False
    if not AuthToken.objects.filter(pk=instance.pk, digest=instance.digest).update(last_used=when):
        token_cache.forget([instance.digest])
        raise InvalidToken()
    instance.last_used = when
    return True


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


def throttle_client(token: AuthToken) -> None:
    """Count one request against the token's ``Client.throttle_rate`` (per user and client)."""
    client = token.client if token.client_id else None
    if client is None or not client.throttle_rate:
        return
    try:
        validate_throttle_rate(client.throttle_rate)
    except ValidationError:  # stored past the model's validator: logged, not a 500
        logger.warning("Client %r has an invalid throttle_rate; its requests are not limited", client.name)
        return
    throttle("user_per_client", [f"{token.user_id}:{client.pk}"], client.throttle_rate)


# --- refreshing, rotating, revoking ---------------------------------------------


def refresh_token(instance: AuthToken) -> datetime | None:
    """Extend the token by its client's TTL (capped by ``MAX_TOKEN_LIFETIME``).

    Raises ``TokenExpired`` for a token already past its expiry or its cap,
    ``InvalidToken`` for one revoked meanwhile.
    """
    current = now()
    if instance.is_expired(current):
        raise TokenExpired()
    expiry = compute_expiry(created=instance.created, start=current, client=instance.client)
    if instance.expiry is not None and expiry is not None and expiry < instance.expiry:
        expiry = instance.expiry  # a refresh never shortens a token
    if not AuthToken.objects.filter(pk=instance.pk).update(expiry=expiry):
        raise InvalidToken()  # revoked while this request ran
    token_cache.forget([instance.digest])
    instance.expiry = expiry
    signals.token_renewed.send(sender=AuthToken, instance=instance, user=instance.user, expiry=expiry)
    return expiry


@sensitive_variables("token")
def rotate_token(instance: AuthToken) -> IssuedToken:
    """Give the session a new token; the old one stops working at once."""
    token = new_token()
    digest = crypto.hash_token(token)
    # Matching the old digest makes two concurrent rotations of one token
    # produce one winner; the loser's token is already dead.
    if not AuthToken.objects.filter(pk=instance.pk, digest=instance.digest).update(digest=digest):
        raise InvalidToken()
    token_cache.forget([instance.digest])
    instance.digest = digest
    return IssuedToken(token=token, instance=instance)


def revoke_tokens(tokens: Any, *, user: AbstractBaseUser | None = None) -> int:
    """Delete the given tokens; ``token_revoked`` goes out once per user concerned.

    Pass ``user`` when all the tokens are that user's, to spare looking them up.
    """
    by_user: dict[Any, list[int]] = {}
    users: Mapping[Any, AbstractBaseUser]
    for pk, user_id in tokens.values_list("pk", "user_id"):
        by_user.setdefault(user_id, []).append(pk)
    if user is not None:
        users = {user.pk: user}
    else:
        users = get_user_model()._default_manager.in_bulk(list(by_user)) if by_user else {}
    total = 0
    with token_cache.batched_marks():  # the post_delete receiver marks each row
        for user_id, pks in by_user.items():
            count = AuthToken.objects.filter(pk__in=pks).delete()[0]
            if count:
                session_ids = [str(pk) for pk in pks]
                signals.token_revoked.send(sender=AuthToken, user=users.get(user_id), session_ids=session_ids)
            total += count
    return total


def logout(request: HttpRequest | None, token: AuthToken | None) -> int:
    """Revoke the request's token."""
    if token is None:
        raise NotAuthenticated()
    count = revoke_tokens(AuthToken.objects.filter(pk=token.pk), user=token.user)
    user_logged_out.send(sender=token.user.__class__, request=request, user=token.user)
    return count


def logout_all(request: HttpRequest | None, user: AbstractBaseUser) -> int:
    """Revoke every token of ``user``."""
    count = revoke_all_tokens(user)
    user_logged_out.send(sender=user.__class__, request=request, user=user)
    return count


def revoke_all_tokens(user: AbstractBaseUser) -> int:
    with transaction.atomic():
        lock_user(user)
        return revoke_tokens(AuthToken.objects.filter(user_id=user.pk), user=user)


def session_tokens(user: AbstractBaseUser) -> Any:
    """The user's active tokens as sessions, newest first."""
    tokens = AuthToken.objects.filter(user_id=user.pk).active(now()).select_related("client")
    api_client = auth_settings.API_ACCESS_CLIENT_NAME
    if api_client and auth_settings.API_ACCESS_EXCLUDE_FROM_SESSIONS:
        tokens = tokens.exclude(client__name=api_client)
    return tokens.order_by("-created", "-pk")


def list_sessions(user: AbstractBaseUser, *, current: AuthToken | None = None) -> list[Session]:
    return [Session.from_token(token, current=current) for token in session_tokens(user)]


def revoke_session(user: AbstractBaseUser, session_id: str) -> int:
    """Revoke one of ``user``'s sessions; anyone else's id, or what is no id, is simply not found."""
    pk = inputs.session_pk(session_id)
    if pk is None:
        raise SessionNotFound()
    # Any live token of the user, also an API key left out of the sessions list (§6).
    tokens = AuthToken.objects.filter(user_id=user.pk, pk=pk).active(now())
    count = revoke_tokens(tokens, user=user)
    if not count:
        raise SessionNotFound()
    return count


# --- maintenance -----------------------------------------------------------------


def clear_expired_tokens(*, batch_size: int = 1000) -> int:
    """Delete expired tokens in batches (bounded memory, short locks); how many."""
    total = 0
    while True:
        pks = list(AuthToken.objects.expired(now()).values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        with token_cache.batched_marks():  # the post_delete receiver marks each row
            total += AuthToken.objects.filter(pk__in=pks).delete()[0]


def revoke_every_token(*, batch_size: int = 1000) -> int:
    """Revoke all tokens of all users, in batches; how many."""
    total = 0
    while True:
        pks = list(AuthToken.objects.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            return total
        total += revoke_tokens(AuthToken.objects.filter(pk__in=pks))


def create_client(name: str, *, token_ttl: timedelta | None, throttle_rate: str | None = None) -> Client:
    """A new ``Client``, checked by the model's validators (``ValidationFailed``, codes
    ``unique`` and ``invalid``): a new name, a DRF rate, a TTL the dates can hold."""
    if refused := inputs.refused(client=name):
        raise ValidationFailed([e for field, error in refused.items() for e in _validation_errors(error, "name")])
    client = Client(name=name, token_ttl=token_ttl, throttle_rate=throttle_rate or None)
    try:
        client.full_clean()
    except ValidationError as error:
        raise ValidationFailed([e for field, errors in error.error_dict.items()
                                for e in _validation_errors(ValidationError(errors), field)]) from None
    try:
        with transaction.atomic():
            client.save()
            return client
    except IntegrityError:
        raise ValidationFailed([FieldError("name", _("A client with that name already exists."), "unique")]) \
            from None


# --- API access keys ---------------------------------------------------------------


def api_access_client() -> Client:
    """The ``Client`` named by ``API_ACCESS_CLIENT_NAME``; API keys are its tokens."""
    name = auth_settings.API_ACCESS_CLIENT_NAME
    client = Client.objects.filter(name=name).first() if name else None
    if client is None:
        raise ApiAccessUnavailable()
    return client


def get_api_key(user: AbstractBaseUser) -> AuthToken:
    """The user's live API key (its metadata: the token itself is never kept)."""
    key = AuthToken.objects.filter(user_id=user.pk, client=api_access_client()).active(now()).select_related("client")
    instance = key.order_by("-created").first()
    if instance is None:
        raise ApiKeyNotFound()
    return instance


def issue_api_key(
    user: AbstractBaseUser, *, request: HttpRequest | None = None, session: AuthToken | None = None
) -> IssuedToken:
    """A new API key for ``user``, replacing (revoking) any key they had.

    ``session``: the token of the request, which must still be live when the key is written.
    """
    client = api_access_client()
    with transaction.atomic():
        lock_user(user)
        revoke_tokens(AuthToken.objects.filter(user_id=user.pk, client=client), user=user)
        return issue_token(user, client=client, request=request, session=session)


def revoke_api_key(user: AbstractBaseUser) -> int:
    return revoke_tokens(AuthToken.objects.filter(user_id=user.pk, client=api_access_client()), user=user)


# --- registration and email confirmation ---------------------------------------


@dataclass(frozen=True)
class Registration:
    user: Any
    email_confirmation_required: bool


def _account_throttle(scope: str, request: HttpRequest | None, identity: Callable[[], str]) -> None:
    """Count one call of an account operation against ``ACCOUNT_THROTTLE_RATE`` (API.md §8):
    per client IP first, then per ``identity()``, the bucket of the address, username or
    link (asked only when the IP bucket let the call through; ``""``: none)."""
    rate = auth_settings.ACCOUNT_THROTTLE_RATE
    _throttle_ip(scope, request, rate)
    if rate is not None:
        throttle(scope, [identity()], rate)


def _identity_bucket(value: str, find_account: Callable[[str], Any]) -> str:
    """The throttle bucket of a normalised username or address, ``find_account`` the
    account it reaches (``throttling.identity_bucket``); ``""`` (the IP bucket only) when
    empty. Values ``inputs`` refuses never get here."""
    if not value:
        return ""
    return throttling.identity_bucket(find_account(value), value)


@sensitive_variables("arguments")
def _refused_input(scope: str, request: HttpRequest | None, rate: str | None, **arguments: Any) -> dict[str, Any]:
    """``inputs.refused(**arguments)`` for a throttled entry point.

    A refused call still counts one attempt for the client IP (no identity: the
    value names none), so it is throttled as any other call is and its answer
    does not stand out from a wrong value's.
    """
    refused = inputs.refused(**arguments)
    if refused:
        _throttle_ip(scope, request, rate)
    return refused


def _validation_errors(error: ValidationError, field: str) -> list[FieldError]:
    return [FieldError(field=field, message=e.message % (e.params or {}), code=e.code or "invalid")
            for e in error.error_list]


def _registration_errors(model: Any, username: str, password: str, email: str) -> list[FieldError]:
    """Every field error of a registration, checked as Django's own forms check them."""
    errors: list[FieldError] = []
    required = _("This field is required.")
    username_field = model._meta.get_field(model.USERNAME_FIELD)
    checked: dict[str, str] = {}  # the values that passed, for the uniqueness checks
    if not username:
        errors.append(FieldError("username", required, "required"))
    else:
        try:
            username_field.clean(username, None)
        except ValidationError as error:
            errors += _validation_errors(error, "username")
        else:
            checked["username"] = username
    email_field = model.get_email_field_name()
    if email_field != model.USERNAME_FIELD:  # else checked above, as the username
        email_errors = _email_errors(model, email_field, email)
        errors += email_errors
        if email and not email_errors:
            checked["email"] = email
    errors += _uniqueness_errors(model, **checked)
    if not password:
        errors.append(FieldError("password", required, "required"))
    else:
        candidate = model(**{model.USERNAME_FIELD: username, email_field: email})
        try:
            validate_password(password, candidate)
        except ValidationError as error:
            errors += _validation_errors(error, "password")
    return errors


def _email_errors(model: Any, email_field: str, email: str) -> list[FieldError]:
    """Whether the separate email field's value may be stored (uniqueness aside)."""
    if not email:
        # REQUIRED_FIELDS only drives createsuperuser's prompts (Django's User lists
        # a blank=True email there); the model field says whether it may be empty.
        required = auth_settings.REGISTRATION_EMAIL_CONFIRM or not model._meta.get_field(email_field).blank
        return [FieldError("email", _("This field is required."), "required")] if required else []
    try:
        validate_email(email)
    except ValidationError as error:
        return _validation_errors(error, "email")
    return []


def _uniqueness_errors(model: Any, *, username: str = "", email: str = "") -> list[FieldError]:
    """``unique`` errors for a username or an address another account has in any case
    (``identities.username_in_use`` / ``email_in_use``); an empty value is not checked."""
    errors = []
    if username and identities.username_in_use(username):
        errors.append(_username_taken(model))
    if email and identities.email_in_use(email):
        errors.append(FieldError("email", _("A user with that email already exists."), "unique"))
    return errors


def _username_taken(model: Any) -> FieldError:
    error = model().unique_error_message(model, (model.USERNAME_FIELD,))
    return FieldError("username", error.message % (error.params or {}), "unique")


def register(
    request: HttpRequest | None, *, username: str, password: str, email: str | None = None
) -> Registration:
    """Create an account; with ``REGISTRATION_EMAIL_CONFIRM``, mail a confirmation link.

    Username and address are normalised as ``login`` and ``resend`` normalise
    them (``identities``). Every field error is reported at once
    (``ValidationFailed``) and nothing is written unless all pass. A username
    or address another account has in any case is ``unique`` (as Django's
    ``UserCreationForm``); checked again under ``identities.lock_identities``
    just before the account is written, so simultaneous registrations of one
    identity, in any case, make one account. A mail failure does not undo the
    account: it is logged, and ``resend_confirmation_email`` sends a new link.
    """
    if not auth_settings.REGISTRATION_ENABLED:
        raise RegistrationDisabled()
    if refused := _refused_input("register", request, auth_settings.ACCOUNT_THROTTLE_RATE,
                                 username=username, password=password, email=email):
        raise ValidationFailed([e for name, error in refused.items() for e in _validation_errors(error, name)])
    model = get_user_model()
    username = identities.normalize_username(username)
    one_field = identities.email_is_username(model)
    # One field when the username is the address (the ``email`` argument is not used).
    email = username if one_field else identities.normalize_email(email)
    # NFKC can lengthen a value ("ⅷ" becomes "viii"): the limits hold for what is stored.
    if refused := inputs.refused(username=username, **({} if one_field else {"email": email})):
        raise ValidationFailed([e for name, error in refused.items() for e in _validation_errors(error, name)])
    _account_throttle("register", request, lambda: _identity_bucket(email, identities.find_account_by_email)
                      or _identity_bucket(username, identities.find_account))
    errors = _registration_errors(model, username, password, email)
    if errors:
        raise ValidationFailed(errors)
    confirm = bool(auth_settings.REGISTRATION_EMAIL_CONFIRM)
    user = model(**{model.USERNAME_FIELD: username, model.get_email_field_name(): email})
    user.set_password(password)
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if confirm and field:
        setattr(user, field, False)
    try:
        with transaction.atomic():
            identities.lock_identities([username, email])
            errors = _uniqueness_errors(model, username=username, email="" if one_field else email)
            if errors:  # registered since the check above, by a request that held the lock
                raise ValidationFailed(errors)
            user.save()
            if confirm:
                email_confirmation.start_registration(user, now=now())
    except IntegrityError:
        # Without the lock (not PostgreSQL): the same username registered at the same moment.
        raise ValidationFailed([_username_taken(model)]) from None
    signals.user_registered.send(sender=model, user=user, request=request)
    if confirm:
        email_confirmation.send_quietly(user, request=request)
    return Registration(user=user, email_confirmation_required=confirm)


def confirm_email(request: HttpRequest | None, token: str) -> Any:
    """Use a confirmation link; works even after registration is turned off.

    Only a link of a pending registration sets ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD``
    (see ``email_confirmation``). Every call counts against ``ACCOUNT_THROTTLE_RATE``
    per client IP and per link; a malformed token only per IP (it has no digest).
    """
    if _refused_input("confirm_email", request, auth_settings.ACCOUNT_THROTTLE_RATE, token=token):
        raise InvalidConfirmationToken()
    well_formed = email_confirmation.is_well_formed(token)
    _account_throttle("confirm_email", request, lambda: f"link:{crypto.hash_token(token)}" if well_formed else "")
    user, email = email_confirmation.consume_confirmation_token(token, now=now())
    signals.email_confirmed.send(sender=user.__class__, user=user, email=email)
    return user


def resend_confirmation_email(request: HttpRequest | None, email: str) -> None:
    """Mail a new link to every pending registration with this address (case-insensitive).

    Accounts made some other way, or already confirmed, get nothing, whatever
    their ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` says. Says nothing about
    whether there was one: callers always answer success. An address that
    ``inputs`` refuses is counted per client IP and mails nobody.
    """
    if _refused_input("resend_confirmation_email", request, auth_settings.ACCOUNT_THROTTLE_RATE, email=email):
        return
    email = identities.normalize_email(email)
    _account_throttle("resend_confirmation_email", request,
                      lambda: _identity_bucket(email, identities.find_account_by_email))
    if not email or not auth_settings.REGISTRATION_EMAIL_CONFIRM:
        return
    for user in identities.accounts_with_email(email).filter(pending_registration__isnull=False):
        email_confirmation.send_quietly(user, request=request)


# --- changes to users --------------------------------------------------------------


def watched_user_fields() -> tuple[str, ...]:
    """The user fields whose change through ``save()`` ``user_saved`` acts on."""
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    return ("password", "is_active", *([field] if field else []))


def user_saved(user: Any, *, before: dict[str, Any], update_fields: Any = None) -> None:
    """A user was saved; ``before`` holds the stored values of ``watched_user_fields`` that it wrote.

    A new password hash (any change but Django's own upgrade at login) or a
    deactivation revokes every token (API.md §8: re-activation brings no
    session back); any other change drops the cached copies of the user.
    Changing ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` by hand (an
    administrator activating or deactivating the account; a pending one has it
    false) ends a pending registration, so no link or resend can later undo a
    deactivation.
    """
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field and field in before and bool(before[field]) != bool(getattr(user, field, False)):
        email_confirmation.end_pending_registration(user)
    old_hash = before.get("password")
    password_changed = (
        old_hash is not None
        and old_hash != user.password
        and not _is_hash_upgrade(user, old_hash, update_fields)
    )
    deactivated = bool(before.get("is_active")) and not getattr(user, "is_active", True)
    if password_changed or deactivated:
        revoke_all_tokens(user)
    token_cache.invalidate_user_tokens(user)


def _is_hash_upgrade(user: Any, old_hash: str, update_fields: Any) -> bool:
    """Whether this save is Django's transparent re-hash at login, not a new password.

    ``AbstractBaseUser.check_password()`` re-hashes a correct password whose
    hash is outdated (another hasher, fewer iterations) and saves only
    ``password`` with ``_password`` cleared, "shouldn't be considered password
    changes". Anything else that writes a hash (``set_password()``,
    ``set_unusable_password()``, assigning ``make_password()``) is a change.
    """
    if update_fields is None or set(update_fields) != {"password"} or getattr(user, "_password", None) is not None:
        return False
    try:
        old_hasher, new_hasher = identify_hasher(old_hash), identify_hasher(user.password)
    except ValueError:  # unusable or unknown: never what an upgrade writes
        return False
    preferred = get_hasher("default")
    outdated = old_hasher.algorithm != preferred.algorithm or preferred.must_update(old_hash)
    return outdated and new_hasher.algorithm == preferred.algorithm and not preferred.must_update(user.password)


alogin = sync_to_async(login)
aauthenticate_token = sync_to_async(authenticate_token)
arefresh_token = sync_to_async(refresh_token)
arotate_token = sync_to_async(rotate_token)
alogout = sync_to_async(logout)
alogout_all = sync_to_async(logout_all)
alist_sessions = sync_to_async(list_sessions)
arevoke_session = sync_to_async(revoke_session)
aregister = sync_to_async(register)
aconfirm_email = sync_to_async(confirm_email)
aresend_confirmation_email = sync_to_async(resend_confirmation_email)
