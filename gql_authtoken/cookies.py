"""The token in an ``HttpOnly`` cookie for browser apps (API.md §11): every cookie rule, in one place.

With ``AUTH_COOKIE`` set, a token of a client listed in its ``CLIENTS`` is
handed to the browser only as a cookie that JavaScript cannot read, and a
request without an ``Authorization`` header is authenticated by that cookie.
The adapters only say what happened (``hand_over`` a new token, ``forget`` it
after a logout); ``TokenAuthenticationMiddleware`` writes the cookie into the
response, so GraphQL (sync, async) and REST behave alike.

A cookie is ambient authority: the browser sends it with requests that other
sites start. So a request authenticated by the cookie keeps Django's CSRF
protection (``check_csrf``), as Django's own session cookie does, and so does
a login that would set it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from django.middleware.csrf import CsrfViewMiddleware
from django.utils.cache import patch_vary_headers
from django.views.decorators.debug import sensitive_variables

from . import clock, tokens
from .conf import auth_settings
from .exceptions import CsrfFailed
from .models import AuthToken
from .tokens import IssuedToken

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

    from .models import Client

# Every key of AUTH_COOKIE but CLIENTS (required) is optional, with these defaults.
COOKIE_DEFAULTS: dict[str, Any] = {"NAME": "authtoken", "SECURE": True, "SAMESITE": "Lax", "DOMAIN": None,
                                   "PATH": "/"}
COOKIE_KEYS = frozenset({*COOKIE_DEFAULTS, "CLIENTS"})
SAMESITE_VALUES = ("Lax", "Strict", "None")

# Set by the middleware on each request whose response it will see: only there can a cookie be written.
_WRITABLE_ATTR = "_gql_authtoken_cookie_writable"
# What the request's operations asked for: the IssuedToken to set, or _DELETE.
_PENDING_ATTR = "_gql_authtoken_cookie"
# Set by the middleware when the request was authenticated by the cookie (not by a header).
_AUTHENTICATED_ATTR = "_gql_authtoken_cookie_authenticated"
_DELETE = object()
_EPOCH = "Thu, 01 Jan 1970 00:00:00 GMT"


@dataclass(frozen=True)
class CookieSettings:
    """``AUTH_COOKIE`` with its defaults filled in."""

    name: str
    clients: frozenset[str]
    secure: bool
    samesite: Literal["Lax", "Strict", "None"]
    domain: str | None
    path: str


def cookie_settings() -> CookieSettings | None:
    """The ``AUTH_COOKIE`` setting, or None while the feature is off (the default).

    Read on every call, like every setting; ``checks.check_auth_cookie`` reports
    bad values at start-up.
    """
    value = auth_settings.AUTH_COOKIE
    if not value:
        return None
    merged = {**COOKIE_DEFAULTS, **value}
    return CookieSettings(name=merged["NAME"], clients=frozenset(merged.get("CLIENTS") or ()),
                          secure=bool(merged["SECURE"]), samesite=merged["SAMESITE"], domain=merged["DOMAIN"],
                          path=merged["PATH"])


def carries_cookie(request: HttpRequest) -> bool:
    """Whether the request carries the token cookie (set or not, valid or not)."""
    config = cookie_settings()
    return config is not None and config.name in request.COOKIES


@sensitive_variables("token")
def request_token(request: HttpRequest) -> str | None:
    """The token in the request's cookie; None when the feature is off or there is none."""
    config = cookie_settings()
    if config is None:
        return None
    token = request.COOKIES.get(config.name)
    return token or None


def check_csrf(request: HttpRequest) -> None:
    """Refuse a request that fails Django's CSRF check (``CsrfFailed``), as ``CsrfViewMiddleware`` would.

    A request that the middleware already accepted is not checked twice. DRF's
    views are ``csrf_exempt`` (DRF checks CSRF only in ``SessionAuthentication``),
    so this is what protects cookie-authenticated REST requests, with DRF's
    wording; it also covers a GraphQL view that a project made ``csrf_exempt``.
    Safe methods (GET, HEAD, OPTIONS, TRACE) always pass.
    """
    reason = _CsrfCheck(_no_response).process_view(request, None, (), {})
    if reason is not None:
        raise CsrfFailed(reason)


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF check, answering the reason of a refusal instead of a 403 page."""

    def process_view(self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any) -> Any:
        self.process_request(request)  # reads the CSRF cookie, if the middleware did not already
        return super().process_view(request, callback, callback_args, callback_kwargs)

    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _no_response(request: HttpRequest) -> Any:
    return None  # never called: only process_view runs


def mark_authenticated(request: HttpRequest) -> None:
    """Say that the request's token came from the cookie (and passed the CSRF check)."""
    request.__dict__[_AUTHENTICATED_ATTR] = True


def authenticated_by_cookie(request: HttpRequest | None) -> TypeGuard[HttpRequest]:
    """Whether the request's live token came from the cookie rather than a header."""
    return request is not None and bool(request.__dict__.get(_AUTHENTICATED_ATTR, False))


def mark_writable(request: HttpRequest) -> None:
    """Say that this request's response passes through ``TokenAuthenticationMiddleware``."""
    request.__dict__[_WRITABLE_ATTR] = True


def uses_cookie(request: HttpRequest | None, client: Client | None) -> bool:
    """Whether a token of ``client`` issued in ``request`` goes into the cookie rather than the body.

    Only over HTTP through the middleware: a WebSocket operation has no
    response to set a cookie on, so there the token stays in the body.
    """
    config = cookie_settings()
    return (config is not None and client is not None and client.name in config.clients
            and request is not None and request.__dict__.get(_WRITABLE_ATTR, False))


def guard_login(request: HttpRequest | None, client: Client | None) -> None:
    """Before a login that would set the cookie: Django's CSRF check (raises ``CsrfFailed``).

    Otherwise another site could post its own credentials through the user's
    browser and log it into the attacker's account (login CSRF). A JSON login
    from a browser with no cookies cannot be sent cross-site without a CORS
    preflight, so the middleware's rule (``csrf_exempt_request``) lets it pass.
    """
    if uses_cookie(request, client):
        check_csrf(request)  # type: ignore[arg-type]  # uses_cookie: never None here


@sensitive_variables("issued")
def hand_over(request: HttpRequest | None, issued: IssuedToken) -> str | None:
    """The token for the response body, or None when it goes into the cookie (``uses_cookie``).

    For a login and a rotation alike: a token of a cookie client reaches the
    browser only as the cookie. The CSRF secret stays as it is (unlike a Django
    session login), so an app keeps the token it read from ``csrf/``.
    """
    if not uses_cookie(request, issued.client):
        return issued.token
    request.__dict__[_PENDING_ATTR] = issued
    return None


@sensitive_variables("token")
def extend(request: HttpRequest | None, instance: AuthToken) -> None:
    """After a refresh of the cookie's own token: set the cookie again, so that it lives as long
    as the token now does (the browser would drop it at the old expiry). Header tokens: nothing."""
    if authenticated_by_cookie(request) and (token := request_token(request)) is not None:
        request.__dict__[_PENDING_ATTR] = IssuedToken(token=token, instance=instance)


def forget(request: HttpRequest | None) -> None:
    """Delete the cookie in this request's response after a logout of the cookie's own session.

    A request authenticated by a header leaves a cookie it also carries alone
    (that session lives on; a later request with it answers for itself). A
    token that an earlier operation of the request issued for the cookie (a
    ``login`` before the ``logout``) is revoked too: the cookie was its only
    copy, so nobody could ever use or end it.
    """
    if authenticated_by_cookie(request):
        pending = request.__dict__.get(_PENDING_ATTR)
        if isinstance(pending, IssuedToken) and pending.token != request_token(request):
            tokens.revoke_tokens(AuthToken.objects.filter(pk=pending.instance.pk), user=pending.instance.user)
        request.__dict__[_PENDING_ATTR] = _DELETE


def has_pending(request: HttpRequest) -> bool:
    """Whether an operation of this request already decided what becomes of the cookie."""
    return _PENDING_ATTR in request.__dict__


@sensitive_variables("pending")
def write_cookie(request: HttpRequest, response: HttpResponseBase, *, dead: bool) -> None:
    """Set or delete the cookie in ``response`` as this request's operations asked.

    ``dead``: the request's cookie token is unknown, revoked or expired
    (whether or not the request used it); the cookie is deleted so the app
    learns it must log in again.
    """
    config = cookie_settings()
    if config is None:
        return
    pending = request.__dict__.get(_PENDING_ATTR)
    if isinstance(pending, IssuedToken):
        expiry = pending.instance.effective_expiry()
        # Max-Age from the package's clock; Django derives Expires from it. No expiry: a session cookie.
        max_age = None if expiry is None else max(0, int((expiry - clock.now()).total_seconds()))
        _set(response, config, pending.token, max_age=max_age)
    elif config.name in request.COOKIES and (pending is _DELETE or dead):
        _set(response, config, "", max_age=0, expires=_EPOCH)
    if config.name in request.COOKIES:
        patch_vary_headers(response, ("Cookie",))  # the answer depends on who the cookie says the user is


def _set(response: HttpResponseBase, config: CookieSettings, value: str, **kwargs: Any) -> None:
    # Deleted with the same attributes it was set with, or browsers keep it.
    response.set_cookie(config.name, value, path=config.path, domain=config.domain, secure=config.secure,
                        httponly=True, samesite=config.samesite, **kwargs)
