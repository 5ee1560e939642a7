"""``request.user`` / ``request.auser()`` / ``request.auth`` from the ``Authorization`` header
or, without one, from the ``AUTH_COOKIE`` cookie (API.md §11, ``gql_authtoken.cookies``).

The token is looked up at most once per request, lazily, and the result is
kept on the request so the GraphQL resolvers and the DRF authentication
classes reuse it instead of querying again.
"""

from __future__ import annotations

import codecs
import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponseBadRequest
from django.urls import Resolver404, get_resolver
from django.utils.functional import SimpleLazyObject
from django.views.decorators.debug import sensitive_variables

from . import clients, cookies, inputs, tokens
from .exceptions import AuthTokenError, InvalidToken

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import AuthToken

_RESULT_ATTR = "_gql_authtoken_result"
_AUTH_ATTR = "_gql_authtoken_auth"
_NO_TOKEN = object()

# Content types an HTML form can send cross-site without a CORS preflight.
FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})


@dataclass(frozen=True)
class TokenAuthResult:
    """What the token of one request resolved to: a live token, or why not.

    ``from_cookie``: the token came from the §11 cookie, not from a header.
    """

    token: AuthToken | None = None
    error: AuthTokenError | None = None
    from_cookie: bool = False

    @property
    def user(self) -> Any:
        return self.token.user if self.token is not None else AnonymousUser()


def authorization_header(request: HttpRequest) -> str:
    return request.META.get("HTTP_AUTHORIZATION", "")


_PARSED_ATTR = "_gql_authtoken_header"


@sensitive_variables("parsed")
def _header_token(request: HttpRequest) -> str | None:
    """The token in the request's header (None: not ours), parsed once per request.

    Raises the parse error (a malformed header of ours) every time it is asked.
    """
    parsed = request.__dict__.get(_PARSED_ATTR)
    if parsed is None:
        try:
            parsed = (tokens.parse_authorization_header(authorization_header(request)),)
        except AuthTokenError as error:
            parsed = error
        request.__dict__[_PARSED_ATTR] = parsed
    if isinstance(parsed, AuthTokenError):
        raise parsed
    return parsed[0]


def has_token_header(request: HttpRequest) -> bool:
    """Whether the request names one of our keywords (no database access)."""
    try:
        return _header_token(request) is not None
    except AuthTokenError:
        return True  # ours, but malformed: it authenticates nobody


def get_token_auth(request: HttpRequest, *, use_cache: bool = True) -> TokenAuthResult | None:
    """The request's token result, looked up once; None without a token header or cookie.

    The first caller decides how it is looked up (through the cache when
    ``TOKEN_CACHE_TIMEOUT`` is above 0 and ``use_cache``); every later one in
    the same request reuses that result.
    """
    result = request.__dict__.get(_RESULT_ATTR)
    if result is None:
        result = _resolve(request, use_cache=use_cache)
        request.__dict__[_RESULT_ATTR] = result
    return None if result is _NO_TOKEN else result


def found_token(request: HttpRequest) -> AuthToken | None:
    """The live token this request's lookup found; None when it found none, or has not run
    (nothing is looked up here)."""
    result = request.__dict__.get(_RESULT_ATTR)
    return result.token if isinstance(result, TokenAuthResult) else None


async def aget_token_auth(request: HttpRequest) -> TokenAuthResult | None:
    if _RESULT_ATTR in request.__dict__:
        return get_token_auth(request)
    return await sync_to_async(get_token_auth)(request)


_CLIENT_RATE_ATTR = "_gql_authtoken_client_rate"


def check_client_rate(request: HttpRequest, token: AuthToken) -> None:
    """Count this request once against the client's rate, whoever asks first.

    GraphQL fields that need a user and ``UserClientRateThrottle`` both ask;
    the request is counted once, and every asker gets the same answer.
    """
    outcome: Literal[True] | AuthTokenError | None = request.__dict__.get(_CLIENT_RATE_ATTR)
    if outcome is None:
        try:
            clients.throttle_client(token)
            outcome = True
        except AuthTokenError as error:
            outcome = error
        request.__dict__[_CLIENT_RATE_ATTR] = outcome
    if outcome is not True:
        raise outcome


def new_client_rate_count(request: HttpRequest) -> None:
    """Let the next ``check_client_rate`` count again: one WebSocket request carries many operations."""
    request.__dict__.pop(_CLIENT_RATE_ATTR, None)


# Where a WebSocket connection keeps its token result (see graphql/channels.py).
CONNECTION_SCOPE_KEY = "gql_authtoken"


def request_token_auth(request: Any) -> TokenAuthResult | None:
    """The token result of an HTTP request, or of a WebSocket consumer's connection."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("type") == "websocket":
        return scope.get(CONNECTION_SCOPE_KEY)
    return get_token_auth(request)


def own_token_revoked(request: Any) -> None:
    """After this request revoked its own token (logout, logoutAll): the rest of the request
    finds it revoked (``invalid_token``), as the next request would.

    The later fields of a GraphQL document and operations of a (sync) batch,
    ``request.user`` and ``request.auth`` (over a socket, ``scope["user"]``)
    no longer see the token's user, and the §11 cookie is deleted in the
    response (``cookies.forget``). ``request`` is an ``HttpRequest``, or a
    WebSocket connection's (``graphql.context``).
    """
    cookies.forget(request)
    result = request_token_auth(request)
    if result is None or result.token is None:
        return  # a session login, or a token already refused: nothing to take back
    revoked = TokenAuthResult(error=InvalidToken(), from_cookie=result.from_cookie)
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict) and scope.get("type") == "websocket":
        scope[CONNECTION_SCOPE_KEY] = revoked
        scope["user"] = AnonymousUser()  # what resolvers read over a socket (graphql.channels)
        return
    request.__dict__[_RESULT_ATTR] = revoked
    request.__dict__.pop(_AUTH_ATTR, None)
    request.user = AnonymousUser()


def session_revoked(request: Any, current: AuthToken | None, session_id: object) -> None:
    """After ``sessions.revoke_session(user, session_id)``: ``own_token_revoked`` when that
    session was the request's own token ``current``."""
    if current is not None and inputs.session_pk(session_id) == current.pk:
        own_token_revoked(request)


@sensitive_variables("token")
def _resolve(request: HttpRequest, *, use_cache: bool) -> Any:
    """The header's token, or else the cookie's; a cookie is accepted only past Django's CSRF
    check, which comes first so that a forged request costs no lookup and changes nothing."""
    from_cookie = False
    try:
        token = _header_token(request)
        if token is None:
            token = cookies.request_token(request)
            if token is None:
                return _NO_TOKEN
            from_cookie = True
            cookies.check_csrf(request)
        result = TokenAuthResult(token=tokens.authenticate_token(token, use_cache=use_cache), from_cookie=from_cookie)
        if from_cookie:
            cookies.mark_authenticated(request)
        return result
    except AuthTokenError as error:
        return TokenAuthResult(error=error, from_cookie=from_cookie)


@sensitive_variables("token")
def _cookie_verdict(request: HttpRequest) -> bool | str:
    """Whether the answer deletes the request's cookie (API.md §11: every answer to a cookie whose
    token is unknown, revoked or expired), or the cookie's token when only a lookup can tell.

    Whatever the view, the method or the CSRF outcome: a dead cookie is dead in a 404, in the
    admin and beside a token header too, and deleting it gives a forged request nothing. A live
    cookie is never deleted, used or not. The request's own lookup of the cookie answers when
    there was one; otherwise (no lookup, a header's token, the admin, a CSRF refusal) the caller
    looks the token up without using it (``tokens.is_live``: nothing written, so a forged
    request still changes nothing). A login, rotation or logout of this request decides instead.
    """
    if not cookies.carries_cookie(request) or cookies.has_pending(request):
        return False
    token = cookies.request_token(request)
    if token is None:
        return True  # an empty value: no token at all
    result = request.__dict__.get(_RESULT_ATTR)
    if isinstance(result, TokenAuthResult) and result.from_cookie:
        if result.token is not None:
            return False
        if isinstance(result.error, InvalidToken):
            return True
    return token


def _get_auth(request: HttpRequest) -> Any:
    if _AUTH_ATTR in request.__dict__:
        return request.__dict__[_AUTH_ATTR]
    result = get_token_auth(request)
    return result.token if result is not None else None


def _set_auth(request: HttpRequest, value: Any) -> None:
    # DRF's Request assigns ``auth`` to the wrapped request after authenticating.
    request.__dict__[_AUTH_ATTR] = value


_request_classes: dict[type, type] = {}


def _add_auth_property(request: HttpRequest) -> None:
    """Give this request a lazy ``auth`` attribute.

    ``request.auth`` must be the ``AuthToken`` or None (so ``is None`` works),
    which a lazy proxy object cannot be; a property on a per-class subclass is
    evaluated on first access instead. ``await request.auser()`` resolves it
    for async code, after which reading ``request.auth`` needs no query.
    """
    cls = request.__class__
    if "auth" in getattr(cls, "__dict__", {}):
        return
    subclass = _request_classes.get(cls)
    if subclass is None:
        subclass = type(cls.__name__, (cls,), {"auth": property(_get_auth, _set_auth), "__module__": cls.__module__})
        _request_classes[cls] = subclass
    request.__class__ = subclass


def csrf_exempt_request(request: HttpRequest, *, token_header: bool) -> bool:
    """Whether no browser could have been tricked into sending this request.

    Browsers cannot add an ``Authorization`` header cross-site without a CORS
    preflight, and a request with no session cookie and a non-form body (JSON
    from a mobile app or CLI) carries no ambient credential to abuse. Anything
    else (a session or §11 token cookie without a token header, or a
    form-encoded, multipart or text/plain body) keeps Django's CSRF protection.
    """
    if token_header:
        return True
    if settings.SESSION_COOKIE_NAME in request.COOKIES or cookies.carries_cookie(request):
        return False
    content_type = (getattr(request, "content_type", "") or "").lower()
    return bool(content_type) and content_type not in FORM_CONTENT_TYPES


@functools.lru_cache(maxsize=1024)
def is_admin_path(urlconf: Any, path: str) -> bool:
    """Whether ``path`` belongs to a Django admin site (URLs of the ``admin`` app) or to
    one of Django's admin tools mounted beside it (``django.contrib.admindocs``)."""
    try:
        match = get_resolver(urlconf).resolve(path)
    except Resolver404:
        return False
    module = getattr(match.func, "__module__", "") or ""
    return "admin" in match.app_names or module.startswith("django.contrib.admin")


def _is_graphql_view(view_func: Any) -> bool:
    from strawberry.django.views import BaseView

    view_class = getattr(view_func, "view_class", None)
    return isinstance(view_class, type) and issubclass(view_class, BaseView)


def _takes_uploads(view_func: Any) -> bool:
    """Whether a Strawberry view reads multipart uploads (``multipart_uploads_enabled``, off by default)."""
    return bool(getattr(view_func, "view_initkwargs", {}).get("multipart_uploads_enabled", False))


_UNREADABLE = "is JSON that cannot be read: too deeply nested, or a number too long."
_NOT_AN_OPERATION = "The request body must be a JSON object or a list of JSON objects."
_MALFORMED, _TOO_DEEP_OR_LONG = object(), object()


def _read_json(text: str) -> Any:
    """``text`` parsed; ``_MALFORMED`` when it is no JSON (Strawberry answers that with its own 400);
    ``_TOO_DEEP_OR_LONG`` when it is JSON that Python's parser cannot read (nesting deeper than it
    recurses, an integer longer than it converts), on which Strawberry fails with a 500."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _MALFORMED
    except (ValueError, RecursionError):
        return _TOO_DEEP_OR_LONG


_NOT_UTF8 = "The request body must be JSON in UTF-8 (RFC 8259), without a byte order mark."


def graphql_body_problem(body: bytes, *, batching: Batching | None = None) -> str | None:
    """Why a JSON body cannot be a GraphQL request, or None when it can: an object (one operation)
    or a list of objects (a batch), in UTF-8 without a byte order mark (RFC 8259, 8.1). Strawberry's
    views answer a 500 to the rest: bytes that are not UTF-8, nesting deeper than the JSON parser
    recurses, an integer longer than Python converts, a body that is not an object. JSON that is
    merely malformed is left to Strawberry, which answers it with its own 400. ``batching``: the
    view's batch limits (``_batching``), under which each operation of a batch is parsed
    (``_operations_problem``).

    A byte order mark or a NUL byte is refused too: the sync view decodes the body as UTF-8 text,
    but the async one hands the bytes to ``json.loads``, which takes a UTF-8 byte order mark, and
    UTF-16 or UTF-32 told by NUL bytes, as JSON; such a body would reach it unchecked. No UTF-8
    JSON holds either (a NUL in a string is the escape ``\\u0000``)."""
    if body.startswith(codecs.BOM_UTF8) or b"\x00" in body:
        return _NOT_UTF8
    try:
        parsed = _read_json(body.decode("utf-8"))
    except UnicodeDecodeError:
        return _NOT_UTF8
    if parsed is _TOO_DEEP_OR_LONG:
        return f"The request body {_UNREADABLE}"
    if parsed is _MALFORMED:
        return None
    return _operations_problem(parsed, batching)


@dataclass
class Batching:
    """A Strawberry view's batch limits: at most ``max_operations`` operations, each parsed with
    ``parse_options``."""

    max_operations: int
    schema: Any

    @functools.cached_property
    def parse_options(self) -> dict[str, Any]:
        """The schema's ``MaxTokensLimiter`` limit, if it has one (its extensions built as Strawberry
        builds them for each request); worked out only for a batch that is parsed."""
        from strawberry.extensions import MaxTokensLimiter

        limiter = next((extension for extension in self.schema.get_extensions(sync=True)
                        if isinstance(extension, MaxTokensLimiter)), None)
        return {"max_tokens": limiter.max_token_count} if limiter else {}


def _batching(view_func: Any) -> Batching | None:
    """The batch limits of a Strawberry view's schema (``StrawberryConfig.batching_config``); None
    when it does not batch (Strawberry refuses every list itself) or when the schema is not
    known before the view runs (neither ``as_view(schema=...)`` nor a class attribute)."""
    schema = getattr(view_func, "view_initkwargs", {}).get("schema") or getattr(
        getattr(view_func, "view_class", None), "schema", None)
    config = getattr(getattr(schema, "config", None), "batching_config", None)
    return Batching(config["max_operations"], schema) if config else None


def _operations_problem(parsed: Any, batching: Batching | None) -> str | None:
    """Why parsed JSON is not one operation (an object) or a batch (a list of objects) whose
    parameters pass ``inputs.graphql_operation_problem``; in a batch the view takes
    (``batching``, no more operations than its limit), each operation one that Strawberry can
    run (``_batch_operation_problem``). Other lists Strawberry refuses itself, before any runs."""
    operations = parsed if isinstance(parsed, list) else [parsed]
    if not all(isinstance(operation, dict) for operation in operations):
        return _NOT_AN_OPERATION
    if operations is not parsed or (batching is not None and len(operations) > batching.max_operations):
        batching = None
    return next(filter(None, (inputs.graphql_operation_problem(operation, query_required=False)
                              or (_batch_operation_problem(operation, batching) if batching else None)
                              for operation in operations)), None)


def _batch_operation_problem(operation: dict[str, Any], batching: Batching) -> str | None:
    """Why Strawberry would answer this operation of a batch with a 400 for the whole batch (no
    query; an ``operationName`` that names no operation of the query, or a query with none),
    or None. Strawberry runs a batch's operations in order and fails on such a one only when it
    reaches it, after the operations before it ran (a login, a ``logoutAll``): so the batch is
    refused before any of it runs. A query that does not parse is no such one: Strawberry
    answers it in that operation's own result."""
    from graphql import GraphQLError, parse
    from strawberry.utils.operation import get_operation_type

    if not operation.get("query"):
        return "Each operation of a batch needs a query (none of the batch ran)."
    try:
        document = parse(operation["query"], **batching.parse_options)
    except (GraphQLError, RecursionError):
        return None
    try:
        get_operation_type(document, operation.get("operationName"))
    except RuntimeError:
        return ("An operation of the batch names no operation of its query, or its query has none "
                "(none of the batch ran).")
    return None


def _upload_problem(operations: str, files_map: str, batching: Batching | None) -> str | None:
    """Why a multipart upload (the GraphQL multipart request spec: ``operations``, and ``map`` from
    file field names to lists of dotted paths to ``null`` placeholders in the operations'
    variables) is one Strawberry fails on with a 500, or None."""
    parsed, paths = _read_json(operations), _read_json(files_map)
    if parsed is _MALFORMED or paths is _MALFORMED:
        return None  # Strawberry's own 400
    problem = _operations_problem(parsed, batching)
    if problem is not None:
        return problem
    if not isinstance(paths, dict) or not all(
            isinstance(targets, list) and all(isinstance(target, str) for target in targets)
            for targets in paths.values()):
        return "The map parameter must map each file to a list of paths."
    for target in (target for targets in paths.values() for target in targets):
        node: Any = parsed
        for step in target.split("."):
            if isinstance(node, list) and step.isascii() and step.isdigit() and int(step) < len(node):
                node = node[int(step)]
            elif isinstance(node, dict) and step in node:
                node = node[step]
            else:
                return f"The map parameter names a path that is not in the operations: {target[:100]}"
        if node is not None:
            return f"The map parameter names a path that is not a null placeholder: {target[:100]}"
    return None


def graphql_request_problem(request: HttpRequest, *, uploads: bool = True,
                            batching: Batching | None = None) -> str | None:
    """Why Strawberry's views would fail with a 500 on this request (None: they would not): a JSON
    body (any content type naming ``application/json``, as Strawberry reads it) per
    ``graphql_body_problem``; the JSON fields of a GET (``variables``, ``extensions``) or of a
    multipart upload (``operations``, ``map``) that Python's parser cannot read; a GET's
    ``operationName`` per ``inputs.graphql_operation_problem``. ``uploads``: the
    view reads multipart uploads (without, Strawberry refuses every multipart request itself);
    ``batching``: its batch limits (``_batching``)."""
    if request.method == "POST" and "application/json" in (request.content_type or ""):
        return graphql_body_problem(request.body, batching=batching)
    if request.method == "GET":
        fields: Any = request.GET
        names: tuple[str, ...] = ("variables", "extensions")
    elif request.method == "POST" and request.content_type == "multipart/form-data" and uploads:
        fields, names = request.POST, ("operations", "map")
    else:
        return None
    for name in names:
        value = fields.get(name)
        if value and _read_json(value) is _TOO_DEEP_OR_LONG:
            return f"The {name} parameter {_UNREADABLE}"
    if request.method == "POST":
        return _upload_problem(fields.get("operations", "{}"), fields.get("map", "{}"), batching)
    return inputs.graphql_operation_problem(
        {"query": fields.get("query"), "operationName": fields.get("operationName")}, query_required=False)


class TokenAuthenticationMiddleware:
    """Authenticate requests that carry ``Authorization: Token <token>``, or the ``AUTH_COOKIE`` cookie.

    Put it after ``django.contrib.auth.middleware.AuthenticationMiddleware``. A
    request with a token header is the token's user, or anonymous when the
    token is invalid, revoked or expired (the session cookie is then ignored).
    Without a token header, the §11 cookie counts as the header would. On the
    way out it sets or deletes that cookie (``cookies.write_cookie``).
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        self.process_request(request)
        with tokens.deletions_after_view() as deletions:  # outside ATOMIC_REQUESTS' transaction
            try:
                response = self.get_response(request)
            finally:  # also when the view's exception propagates (DEBUG_PROPAGATE_EXCEPTIONS)
                tokens.run_deletions(deletions)
        verdict = _cookie_verdict(request)
        dead = not tokens.is_live(verdict, use_cache=True) if isinstance(verdict, str) else verdict
        cookies.write_cookie(request, response, dead=dead)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        self.process_request(request)
        with tokens.deletions_after_view() as deletions:
            try:
                response = await self.get_response(request)
            finally:
                if deletions:
                    await sync_to_async(tokens.run_deletions)(deletions)
        verdict = _cookie_verdict(request)
        if isinstance(verdict, str):
            verdict = not await sync_to_async(tokens.is_live)(verdict, use_cache=True)
        cookies.write_cookie(request, response, dead=verdict)
        return response

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        """A 400 for a request to a Strawberry view that Strawberry's own views fail on with a 500
        (``graphql_request_problem``: a JSON body not in UTF-8, nested too deeply, ``null``, ``[1]``...).

        Before an async Strawberry view (``AsyncGraphQLView``), the request's user (its token's,
        or else the session's) is looked up here, where Django runs this hook off the event loop:
        its sync resolvers run in the loop, where Django refuses a query, and
        ``current_user(info)`` or ``request.user`` then needs none. Other views keep the lazy
        lookup (none at all for a view that never asks)."""
        if _is_graphql_view(view_func):
            problem = graphql_request_problem(request, uploads=_takes_uploads(view_func),
                                              batching=_batching(view_func))
            if problem is not None:
                return HttpResponseBadRequest(problem, content_type="text/plain; charset=utf-8")
            user = getattr(request, "user", None)  # Django's lazy session user, or the token's
            if iscoroutinefunction(view_func) and isinstance(user, SimpleLazyObject):
                getattr(user, "pk", None)  # evaluated here
        return None

    def process_request(self, request: HttpRequest) -> None:
        _add_auth_property(request)
        cookies.mark_writable(request)
        token_header = has_token_header(request)
        token_cookie = not token_header and cookies.request_token(request) is not None
        urlconf = getattr(request, "urlconf", None) or settings.ROOT_URLCONF
        if (token_header or token_cookie) and is_admin_path(urlconf, request.path_info):
            # Tokens are API credentials, never the admin's (API.md §8): there the
            # request is handled as if it carried none (session and CSRF as usual).
            request.__dict__[_RESULT_ATTR] = _NO_TOKEN
            token_header = token_cookie = False
        if csrf_exempt_request(request, token_header=token_header):
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        if not (token_header or token_cookie):
            return
        # A lazy proxy, as Django's AuthenticationMiddleware sets (the stubs type a user). With a token
        # header or cookie, get_token_auth() is never None, here and in auser().
        request.user = SimpleLazyObject(lambda: get_token_auth(request).user)  # type: ignore[assignment,union-attr]

        async def auser() -> Any:
            return (await aget_token_auth(request)).user  # type: ignore[union-attr]

        request.auser = auser
