"""REST endpoints (and the confirmation link's page): parse input, call the core, write output. No rules here."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from rest_framework import serializers, status
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import clients, cookies, login, sessions, tokens
from ..accounts import email_change, passwords, registration
from ..conf import auth_settings
from ..exceptions import InvalidConfirmationToken, Throttled
from ..middleware import own_token_revoked, session_revoked
from ..models import AuthToken, Client
from .authentication import CachedTokenAuthentication
from .errors import CoreErrorsMixin
from .schema import OpenApiResponse, extend_schema
from .serializers import (
    ChangeEmailResponseSerializer,
    ChangeEmailSerializer,
    CsrfTokenSerializer,
    ExpirySerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RegisterSerializer,
    RevokedSessionsSerializer,
    RotatedTokenSerializer,
    SessionSerializer,
    SuccessSerializer,
    TokenResponseSerializer,
)
from .throttling import UserClientRateThrottle

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


# Documented answers besides success, for the OpenAPI description.
_BAD_INPUT = {400: OpenApiResponse(description="Invalid input, by field.")}
_NO_TOKEN = {401: OpenApiResponse(description="No, an invalid, revoked or expired token.")}
_THROTTLED = {429: OpenApiResponse(description="Too many requests; see Retry-After.")}
_NOT_FOUND = {404: OpenApiResponse(description="Not found.")}
_FORBIDDEN = {403: OpenApiResponse(description="Your client may not do this.")}
_TOKEN_ERRORS = {**_NO_TOKEN, **_FORBIDDEN, **_THROTTLED}


def format_expiry(expiry: datetime | None) -> Any:
    """``expiry`` as ``EXPIRY_DATETIME_FORMAT`` (default: DRF's ``DATETIME_FORMAT``)."""
    if expiry is None:
        return None
    fmt = auth_settings.EXPIRY_DATETIME_FORMAT
    field = serializers.DateTimeField() if fmt is None else serializers.DateTimeField(format=fmt)
    return field.to_representation(expiry)


class TokenView(CoreErrorsMixin, APIView):
    """Base for the endpoints that act on the request's own token."""

    # The cache is never stale (see gql_authtoken.cache), so these use it too.
    authentication_classes = [CachedTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get_throttles(self) -> list[Any]:
        return [*super().get_throttles(), UserClientRateThrottle()]

    @property
    def token(self) -> AuthToken:
        return self.request.auth  # type: ignore[return-value]  # IsAuthenticated: never None here

    @property
    def user(self) -> AbstractBaseUser:
        return self.request.user  # type: ignore[return-value]  # IsAuthenticated: never anonymous here


# django-rest-durin ``LoginView`` hooks that cannot work here: credentials are checked, and
# the token issued, by the core (throttled, one new token per login), not by the view.
_UNSUPPORTED_LOGIN_HOOKS = ("validate_and_return_user", "get_token_obj")


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(CoreErrorsMixin, APIView):
    """POST username, password and optional client; 200 ``{"token", "expiry"}``.

    Override points as in django-rest-durin (docs/rest.md): ``get_client_obj``,
    ``get_post_response_data``, ``format_expiry_datetime``, ``get_context`` and
    ``get_user_serializer_class``. As in durin, the credentials are checked
    first and ``request.user`` is the user logging in when the hooks run. A
    subclass overriding durin's ``validate_and_return_user`` or
    ``get_token_obj``, which are never called here, is refused when it is
    defined (``ImproperlyConfigured``) rather than silently ignored.

    For a client in ``AUTH_COOKIE["CLIENTS"]`` the token is set as that cookie
    and the body has no ``"token"`` (whatever ``get_post_response_data`` put
    there); such a login passes Django's CSRF check before any token is issued
    (``cookies.guard_login``).
    """

    # A stale token header must not stop anyone from logging in again.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = LoginSerializer

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overridden = [name for name in _UNSUPPORTED_LOGIN_HOOKS if name in cls.__dict__]
        if overridden:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} overrides {', '.join(overridden)}, which gql_authtoken's LoginView never "
                "calls: credentials are checked and a new token issued by the core. See docs/migrating.md "
                "(django-rest-durin's LoginView).")

    def get_client_obj(self, request: Request) -> Client | None:
        data = request.data if isinstance(request.data, Mapping) else {}  # a JSON array has no client
        return clients.get_client(data.get("client") or None)

    def format_expiry_datetime(self, expiry: datetime | None) -> Any:
        return format_expiry(expiry)

    def get_context(self) -> dict[str, Any]:
        """The context of the user serializer."""
        return {"request": self.request, "format": self.format_kwarg, "view": self}

    def get_user_serializer_class(self) -> Any:
        """The serializer of ``"user"`` in the answer; None: no ``"user"`` (default: ``USER_SERIALIZER``)."""
        return auth_settings.import_setting("USER_SERIALIZER")

    def get_post_response_data(self, request: Request, token_obj: tokens.IssuedToken) -> dict[str, Any]:
        """The response body. ``token_obj`` is shaped like durin's ``AuthToken`` (``tokens.IssuedToken``):
        ``token`` (the plaintext, this once), ``expiry``, ``created``, ``pk``, ``user``, ``client``,
        ``has_expired``, ``expires_in``, and ``instance``; ``request.user`` is the user logging in."""
        data = {"token": token_obj.token, "expiry": self.format_expiry_datetime(token_obj.expiry)}
        user_serializer = self.get_user_serializer_class()
        if user_serializer is not None:
            data["user"] = user_serializer(request.user, context=self.get_context()).data
        return data

    @extend_schema(request=LoginSerializer, responses={
        200: TokenResponseSerializer, **_BAD_INPUT, **_THROTTLED,
        403: OpenApiResponse(description="CSRF check failed, for a login that would set the AUTH_COOKIE cookie.")})
    @method_decorator(sensitive_variables("serializer", "issued"))
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)

        def choose_client(user: Any) -> Client | None:
            request.user = user  # as durin: its hooks read the user logging in from request.user
            client = self.get_client_obj(request)
            cookies.guard_login(request._request, client)
            return client

        issued = login.login(
            request._request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            choose_client=choose_client,
        )
        data = self.get_post_response_data(request, issued)
        if cookies.hand_over(request._request, issued) is None:
            data.pop("token", None)
        return Response(data)


class LogoutView(TokenView):
    """POST or DELETE: revoke the request's token; 204. GET (drf_advanced_token's
    documented logout): the same, answered by a blank 200; 405 for a request authenticated
    by the ``AUTH_COOKIE`` cookie (a GET is not checked for CSRF)."""

    @extend_schema(request=None, responses={200: OpenApiResponse(description="Done (empty body)."),
                                            **_TOKEN_ERRORS})
    def get(self, request: Request) -> Response:
        if cookies.authenticated_by_cookie(request._request):
            # A GET passes the CSRF check: any site could log the user out with a link or an image.
            raise MethodNotAllowed(request.method or "GET")
        tokens.logout(request._request, self.token)
        own_token_revoked(request._request)
        # No data: DRF sends no body and no Content-Type, as drf_advanced_token's Response(None, 200).
        return Response(status=status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Done."), **_TOKEN_ERRORS})
    def post(self, request: Request) -> Response:
        tokens.logout(request._request, self.token)
        own_token_revoked(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Done."), **_TOKEN_ERRORS})
    def delete(self, request: Request) -> Response:
        return self.post(request)


class LogoutAllView(TokenView):
    """POST: revoke every token of the user; 204."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Done."), **_TOKEN_ERRORS})
    def post(self, request: Request) -> Response:
        tokens.logout_all(request._request, self.user)
        own_token_revoked(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RefreshView(TokenView):
    """POST: extend the token by its client's TTL; 200 ``{"expiry"}``. Hooks as durin's:
    ``renew_token(request, token)`` and ``format_expiry_datetime(expiry)``."""

    def renew_token(self, request: Request, token: AuthToken) -> datetime | None:
        """Extend ``token``; its new expiry (a hook of durin's ``RefreshView``)."""
        return tokens.refresh_token(token)

    def format_expiry_datetime(self, expiry: datetime | None) -> Any:
        return format_expiry(expiry)

    @extend_schema(request=None, responses={200: ExpirySerializer, **_TOKEN_ERRORS})
    def post(self, request: Request) -> Response:
        expiry = self.renew_token(request, self.token)
        cookies.extend(request._request, self.token)
        return Response({"expiry": self.format_expiry_datetime(expiry)})


class TokenCheckView(TokenView):
    """GET: 200 while the token is valid (401 otherwise). PUT: rotate; 200 ``{"token"}``
    (``{}`` when the new token went into the ``AUTH_COOKIE`` cookie)."""

    @extend_schema(responses={200: ExpirySerializer, **_TOKEN_ERRORS})
    def get(self, request: Request) -> Response:
        return Response({"expiry": format_expiry(self.token.effective_expiry())})

    @extend_schema(request=None, responses={200: RotatedTokenSerializer, **_TOKEN_ERRORS})
    def put(self, request: Request) -> Response:
        token = cookies.hand_over(request._request, tokens.rotate_token(self.token))
        return Response({"token": token} if token is not None else {})


class SessionListView(TokenView):
    """GET: the user's active sessions, newest first."""

    @extend_schema(responses={200: SessionSerializer(many=True), **_TOKEN_ERRORS})
    def get(self, request: Request) -> Response:
        active = sessions.list_sessions(self.user, current=self.token)
        return Response(SessionSerializer(active, many=True).data)


class SessionView(TokenView):
    """DELETE: revoke one of the user's sessions; 204, or 404 for anyone else's."""

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Done."), **_TOKEN_ERRORS,
                                            **_NOT_FOUND})
    def delete(self, request: Request, session_id: str) -> Response:
        sessions.revoke_session(self.user, session_id)
        session_revoked(request._request, self.token, session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


@method_decorator([never_cache, ensure_csrf_cookie], name="dispatch")
class CsrfView(APIView):
    """GET: set Django's CSRF cookie and answer 200 ``{"csrfToken"}``, for browser apps (API.md §11).

    Requests authenticated by the ``AUTH_COOKIE`` cookie send the token back in
    ``X-CSRFToken`` (Django's ``CSRF_HEADER_NAME``). The body carries it too, for
    an app on another origin, which cannot read this origin's ``csrftoken``
    cookie.
    """

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: CsrfTokenSerializer})
    def get(self, request: Request) -> Response:
        return Response({"csrfToken": get_token(request._request)})


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class RegisterView(CoreErrorsMixin, APIView):
    """POST username, password, email: 201 ``{"success": true}`` (404 while disabled)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = RegisterSerializer

    @extend_schema(request=RegisterSerializer,
                   responses={201: SuccessSerializer, **_BAD_INPUT, **_NOT_FOUND, **_THROTTLED})
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        registration.register(
            request._request,
            username=data.get("username", ""),
            password=data.get("password", ""),
            email=data.get("email"),
        )
        return Response({"success": True}, status=status.HTTP_201_CREATED)


# login_not_required: the person following the link is not logged in (Django's
# LoginRequiredMiddleware would send them to LOGIN_URL); DRF marks its views the same way.
@method_decorator([never_cache, xframe_options_deny, csrf_protect, login_not_required], name="dispatch")
class ConfirmEmailView(View):
    """The mailed link, ``register/confirm/<token>/``: a page for people, not a JSON endpoint.

    GET and HEAD show a page whose button POSTs back to the same URL, because
    mail scanners and link previews open links: they change nothing, do not
    look the link up and do not count against the throttle. POST uses the
    link and redirects (302) to ``REGISTRATION_CONFIRM_REDIRECT_PATH``; an
    invalid link redirects to ``REGISTRATION_CONFIRM_INVALID_REDIRECT_PATH``,
    or answers 400 in plain text when that is unset; throttled: 429 with
    ``Retry-After``. ``REGISTRATION_CONFIRM_ON_GET`` makes GET do what POST
    does (HEAD still changes nothing). Targets come from settings only.

    A plain Django view, so ``csrf_protect`` guards the POST (and sets the CSRF
    cookie on the page) whether or not the project runs CsrfViewMiddleware.
    """

    template_name = "gql_authtoken/confirm_email.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        if auth_settings.REGISTRATION_CONFIRM_ON_GET:
            return self.confirm(request, token)
        return self.page(request)

    def head(self, request: HttpRequest, token: str) -> HttpResponse:
        return self.page(request)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        return self.confirm(request, token)

    def page(self, request: HttpRequest) -> HttpResponse:
        """The page with the button; the same for every token, valid or not."""
        response = render(request, self.template_name)
        # Not "no-referrer": under it browsers send "Origin: null" with the
        # form's POST (Fetch standard, "append a request Origin header"), which
        # Django's CSRF check refuses (its CSRF docs warn about no-referrer).
        # "strict-origin" sends only this site's origin: never the link.
        response["Referrer-Policy"] = "strict-origin"
        return response

    def confirm(self, request: HttpRequest, token: str) -> HttpResponse:
        """Use the link and say how it went, by redirect or plain text."""
        try:
            registration.confirm_email(request, token)
        except InvalidConfirmationToken as error:
            target = auth_settings.REGISTRATION_CONFIRM_INVALID_REDIRECT_PATH
            response = HttpResponseRedirect(target) if target else _plain_text(error.message, status=400)
        except Throttled as error:
            response = _plain_text(error.message, status=429)
            response["Retry-After"] = str(error.retry_after)
        else:
            response = HttpResponseRedirect(auth_settings.REGISTRATION_CONFIRM_REDIRECT_PATH)
        # The page the browser lands on must not see the link in document.referrer.
        response["Referrer-Policy"] = "no-referrer"
        return response


def _plain_text(message: Any, *, status: int) -> HttpResponse:
    return HttpResponse(str(message), status=status, content_type="text/plain; charset=utf-8")


class ApiAccessView(TokenView):
    """The user's API key for ``API_ACCESS_CLIENT_NAME``.

    POST: 201 ``{"token", "expiry"}``, replacing any key (the only time the key
    is shown). GET: its metadata, 404 when there is none. DELETE: 204.
    404 throughout when the client row is missing.
    """

    @extend_schema(responses={200: SessionSerializer, **_TOKEN_ERRORS, **_NOT_FOUND})
    def get(self, request: Request) -> Response:
        key = sessions.get_api_key(self.user)
        return Response(SessionSerializer(sessions.Session.from_token(key, current=self.token)).data)

    @extend_schema(request=None, responses={201: TokenResponseSerializer, **_TOKEN_ERRORS, **_NOT_FOUND})
    def post(self, request: Request) -> Response:
        issued = sessions.issue_api_key(self.user, request=request._request, session=self.token)
        return Response({"token": issued.token, "expiry": format_expiry(issued.expiry)}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: OpenApiResponse(description="Done."), **_TOKEN_ERRORS,
                                            **_NOT_FOUND})
    def delete(self, request: Request) -> Response:
        sessions.revoke_api_key(self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- passwords (API.md §10) -----------------------------------------------------------------


@method_decorator(sensitive_post_parameters("old_password", "new_password"), name="dispatch")
class PasswordChangeView(TokenView):
    """POST old_password, new_password: 200 ``{"revoked_sessions"}``, every other session
    revoked and this token kept; 400 field errors (``invalid_password``, the password validators)."""

    serializer_class = PasswordChangeSerializer

    @extend_schema(request=PasswordChangeSerializer,
                   responses={200: RevokedSessionsSerializer, **_BAD_INPUT, **_TOKEN_ERRORS})
    @method_decorator(sensitive_variables("serializer", "data"))
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        revoked = passwords.change_password(request._request, self.user, self.token,
                                            old_password=data.get("old_password", ""),
                                            new_password=data.get("new_password", ""))
        return Response({"revoked_sessions": revoked})


class PasswordResetView(CoreErrorsMixin, APIView):
    """POST email: 200 ``{"success": true}`` whether or not an account has that address
    (a link is mailed to each active one with a usable password)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = PasswordResetSerializer

    @extend_schema(request=PasswordResetSerializer, responses={200: SuccessSerializer, **_THROTTLED})
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        passwords.send_password_reset_email(request._request, serializer.validated_data.get("email", ""))
        return Response({"success": True})


@method_decorator(sensitive_post_parameters("token", "new_password"), name="dispatch")
class PasswordResetConfirmView(CoreErrorsMixin, APIView):
    """POST token (from the reset mail), new_password: 200 ``{"success": true}``, every
    session of the user revoked; 400 ``{"token": [...]}`` or field errors of ``new_password``."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    serializer_class = PasswordResetConfirmSerializer

    @extend_schema(request=PasswordResetConfirmSerializer,
                   responses={200: SuccessSerializer, **_BAD_INPUT, **_THROTTLED})
    @method_decorator(sensitive_variables("serializer", "data"))
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        passwords.reset_password(request._request, data.get("token", ""), data.get("new_password", ""))
        return Response({"success": True})


# --- email change (API.md §10) -------------------------------------------------------------


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class ChangeEmailView(TokenView):
    """POST password, new_email: 200 ``{"success": true, "email_confirmation_required"}``;
    400 by field; with email confirmation the address changes when the mailed link is used."""

    serializer_class = ChangeEmailSerializer

    @extend_schema(request=ChangeEmailSerializer,
                   responses={200: ChangeEmailResponseSerializer, **_BAD_INPUT, **_TOKEN_ERRORS})
    @method_decorator(sensitive_variables("serializer", "data"))
    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = email_change.change_email(
            request._request, self.user, password=data.get("password", ""), new_email=data.get("new_email", ""),
            token=self.token,
        )
        return Response({"success": True, "email_confirmation_required": result.email_confirmation_required})
