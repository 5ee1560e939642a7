"""Sessions as their user sees them (one per live token) and API access keys."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from . import clock, cookies, inputs, models, primary, tokens
from .conf import auth_settings
from .exceptions import ApiAccessUnavailable, ApiKeyNotFound, PermissionDenied, SessionNotFound
from .models import AuthToken, Client, has_passed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger("gql_authtoken")


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
        """``current``: the request's own token, whose use this request recorded (inside a
        transaction the row has it only once the request commits: ``tokens.touch``)."""
        is_current = current is not None and current.pk == token.pk
        return cls(
            id=str(token.pk),
            client=token.client.name if token.client is not None else None,
            created=token.created,
            expiry=token.effective_expiry(),
            last_used=current.last_used if current is not None and is_current else token.last_used,
            user_agent=token.user_agent,
            ip_address=token.ip_address,
            is_current=is_current,
        )

    # django-rest-durin's session fields.
    @property
    def has_expired(self) -> bool:
        return has_passed(self.expiry, clock.now())

    @property
    def expires_in(self) -> str:
        return tokens.lifetime_in_words(self.created, self.expiry)


def session_tokens(user: AbstractBaseUser) -> Any:
    """The user's active tokens, newest first, with their client and user (``list_sessions``)."""
    active = AuthToken.objects.filter(user_id=user.pk).active(clock.now()).select_related("client", "user")
    api_client = auth_settings.API_ACCESS_CLIENT_NAME
    if api_client and auth_settings.API_ACCESS_EXCLUDE_FROM_SESSIONS:
        active = active.exclude(client__name=api_client)
    return active.order_by("-created", "-pk")


def list_sessions(user: AbstractBaseUser, *, current: AuthToken | None = None) -> list[Session]:
    # A token whose user's hash was replaced without save() no longer authenticates: no session.
    return [Session.from_token(token, current=current) for token in session_tokens(user)
            if token.rests_on_stored_password()]


def revoke_session(user: AbstractBaseUser, session_id: str) -> int:
    """Revoke one of ``user``'s sessions; anyone else's id, or what is no id, is simply not found."""
    pk = inputs.session_pk(session_id)
    if pk is None:
        raise SessionNotFound()
    # Any live token of the user, also an API key left out of the sessions list (§6).
    count = tokens.revoke_tokens(AuthToken.objects.filter(user_id=user.pk, pk=pk).active(clock.now()), user=user)
    if not count:
        raise SessionNotFound()
    return count


def api_access_client() -> Client:
    """The ``Client`` named by ``API_ACCESS_CLIENT_NAME``; API keys are its tokens."""
    name = auth_settings.API_ACCESS_CLIENT_NAME
    client = primary.manager(Client).filter(name=name).first() if name else None  # it decides: no replica
    if client is None:
        # The caller hears a bare 404 (no settings named to clients); the project's log says why.
        if name:
            logger.warning("API access is off: no Client is named %r (GQL_AUTHTOKEN['API_ACCESS_CLIENT_NAME']); "
                           "create it with `manage.py create_client`", name)
        else:
            logger.warning("API access is off: GQL_AUTHTOKEN['API_ACCESS_CLIENT_NAME'] is not set")
        raise ApiAccessUnavailable()
    return client


def get_api_key(user: AbstractBaseUser) -> AuthToken:
    """The user's live API key (its metadata: the token itself is never kept)."""
    keys = AuthToken.objects.filter(user_id=user.pk, client=api_access_client()).active(clock.now())
    for instance in keys.select_related("client", "user").order_by("-created"):
        if instance.rests_on_stored_password():  # else it no longer authenticates (list_sessions)
            return instance
    raise ApiKeyNotFound()


def issue_api_key(
    user: AbstractBaseUser, *, request: HttpRequest | None = None, session: AuthToken | None = None
) -> tokens.IssuedToken:
    """A new API key for ``user``, replacing (revoking) any key they had.

    ``session``: the token of the request, which must still be live when the key is written
    (``tokens.require_live``, checked before the old key goes: a request authenticated by
    the old key itself replaces it, as a rotation does). ``InvalidToken`` otherwise.
    """
    if cookies.authenticated_by_cookie(request):
        # A script on the page would get a bearer key that outlives the cookie session
        # (API.md §11: the page never holds a token). Header tokens and the admin only.
        raise PermissionDenied()
    client = api_access_client()
    with models.user_transaction():
        if not models.hold_client(client):  # before the user's lock (models.hold_client)
            raise ApiAccessUnavailable()  # deleted meanwhile, and the keys with it
        models.lock_user(user)
        if session is not None:
            tokens.require_live(session)  # locked until the key is written
        tokens.revoke_tokens(AuthToken.objects.filter(user_id=user.pk, client=client), user=user)
        return tokens.issue_token(user, client=client, request=request)


def revoke_api_key(user: AbstractBaseUser) -> int:
    return tokens.revoke_tokens(
        AuthToken.objects.filter(user_id=user.pk, client=api_access_client()), user=user
    )


alist_sessions = sync_to_async(list_sessions)
arevoke_session = sync_to_async(revoke_session)
