"""System checks for misconfiguration, reported by ``manage.py check`` at start-up."""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ValidationError
from django.db import DatabaseError, router
from django.utils.module_loading import import_string

from .cache import MARK_MIN_TIMEOUT
from .cache_access import THROTTLE_FAILURE_MODES
from .conf import DEFAULTS, IMPORT_STRINGS, auth_settings

MIDDLEWARE_PATH = "gql_authtoken.middleware.TokenAuthenticationMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"

DURATION_SETTINGS = ("DEFAULT_TOKEN_TTL", "MAX_TOKEN_LIFETIME", "LAST_USED_UPDATE_INTERVAL",
                     "REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY")
OPTIONAL_DURATIONS = {"DEFAULT_TOKEN_TTL", "MAX_TOKEN_LIFETIME"}
THROTTLE_RATE_SETTINGS = ("LOGIN_THROTTLE_RATE", "LOGIN_ACCOUNT_THROTTLE_RATE", "ACCOUNT_THROTTLE_RATE")


def _error(message: str, id: int, hint: str | None = None) -> Error:
    return Error(message, hint=hint, id=f"gql_authtoken.E{id:03d}")


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from .clients import CLIENT_RATE_SCOPE
    from .models import LONGEST_TOKEN_LIFETIME, validate_throttle_rate
    from .throttling import parse_rate

    errors: list[Any] = []
    user = auth_settings.user_settings()
    if not isinstance(user, dict):
        return [_error("GQL_AUTHTOKEN must be a dict.", 1)]
    for name in sorted(set(user) - set(DEFAULTS), key=repr):  # keys of any type
        close = difflib.get_close_matches(str(name).upper(), list(DEFAULTS), n=1)
        errors.append(_error(f"GQL_AUTHTOKEN has an unknown setting {name!r}.", 2,
                             hint=f"Did you mean {close[0]!r}?" if close else
                             "See the settings reference in the docs for the valid names."))
    for name in DURATION_SETTINGS:
        value = getattr(auth_settings, name)
        if value is None and name in OPTIONAL_DURATIONS:
            continue
        if not isinstance(value, timedelta) or value < timedelta(0):
            errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] must be a non-negative timedelta.", 3))
        elif name in OPTIONAL_DURATIONS and not timedelta(0) < value <= LONGEST_TOKEN_LIFETIME:
            errors.append(_error(
                f"GQL_AUTHTOKEN[{name!r}] must be above 0 and at most {LONGEST_TOKEN_LIFETIME.days} days.", 16,
                hint="0 would issue tokens that are dead on arrival; a longer time overflows dates. "
                     "None means no limit."))
    length = auth_settings.TOKEN_CHARACTER_LENGTH
    if not isinstance(length, int) or not 32 <= length <= 256:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_CHARACTER_LENGTH'] must be an int from 32 to 256.", 4,
                             hint="Shorter tokens are guessable; 64 is the default."))
    prefix = auth_settings.TOKEN_PREFIX
    if not isinstance(prefix, str) or not all(c.isalnum() or c in "_-" for c in prefix) or len(prefix) > 32:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_PREFIX'] must be up to 32 letters, digits, '_' or '-'.", 5))
    prefixes = auth_settings.AUTH_HEADER_PREFIXES
    if (isinstance(prefixes, str) or not prefixes
            or not all(isinstance(p, str) and p and " " not in p for p in prefixes)):
        errors.append(_error("GQL_AUTHTOKEN['AUTH_HEADER_PREFIXES'] must be a non-empty list of words.", 6,
                             hint='For example ("Token", "Bearer").'))
    timeout = auth_settings.TOKEN_CACHE_TIMEOUT
    if not isinstance(timeout, int) or timeout < 0:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_CACHE_TIMEOUT'] must be a non-negative int.", 7))
    elif timeout > MARK_MIN_TIMEOUT:
        errors.append(Warning(
            f"GQL_AUTHTOKEN['TOKEN_CACHE_TIMEOUT'] is above {MARK_MIN_TIMEOUT} seconds: a revocation mark "
            "written by a process with a shorter one lives too short to guard this process's entries.",
            hint=f"Keep it at most {MARK_MIN_TIMEOUT}, or give every process that shares the token cache "
                 "(workers, commands, other projects) the same TOKEN_CACHE_TIMEOUT.",
            id="gql_authtoken.W013"))
    local = auth_settings.TOKEN_LOCAL_CACHE_TIMEOUT
    if isinstance(local, bool) or not isinstance(local, (int, float)) or not 0 <= local <= 1:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_LOCAL_CACHE_TIMEOUT'] must be a number of seconds from 0 to 1.", 28,
                             hint="Every revocation waits this long before it returns; 0.05 is the default, "
                                  "0 turns the in-process hits off."))
    if auth_settings.TOKEN_CACHE_ALIAS not in settings.CACHES:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_CACHE_ALIAS'] names no entry of CACHES.", 8))
    for name in THROTTLE_RATE_SETTINGS:
        rate = getattr(auth_settings, name)
        try:
            if rate is not None and (not isinstance(rate, str) or not rate.strip()):
                raise ValidationError("not a rate")
            validate_throttle_rate(rate)
        except ValidationError:
            errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] must be a DRF rate such as '10/min', or None.", 17,
                                 hint="A count, a slash and a period starting with s, m, h or d."))
    client_rates = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_THROTTLE_RATES") or {}
    try:
        validate_throttle_rate(client_rates.get(CLIENT_RATE_SCOPE) or None)
    except (ValidationError, AttributeError):
        errors.append(_error(f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'][{CLIENT_RATE_SCOPE!r}] must be a DRF rate "
                             "such as '10/min', or None.", 17,
                             hint="It limits tokens of clients without a throttle_rate (UserClientRateThrottle)."))
    for name in ("LOGIN_ACCOUNT_THROTTLE_RATE", "ACCOUNT_THROTTLE_RATE"):
        # One address may use at most half of an account's failures, and one IP half of an address's
        # mails (throttling.share_of); with a budget of one, that half is the whole bucket.
        try:
            count = parse_rate(getattr(auth_settings, name))
        except (ValueError, KeyError, IndexError, TypeError):
            continue  # E017 reports it
        if count is not None and count[0] == 1:  # below 1 E017 reports
            errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] must allow at least 2 attempts.", 19,
                                 hint="So that no single address can use up the bucket and lock the rightful "
                                      "user out (API.md §8)."))
    header = auth_settings.CLIENT_IP_HEADER
    if header is not None and (not isinstance(header, str) or not header.isupper() or "-" in header):
        errors.append(_error("GQL_AUTHTOKEN['CLIENT_IP_HEADER'] must be a request.META key such as "
                             "'HTTP_X_FORWARDED_FOR', or None.", 20,
                             hint="Header names are upper case in request.META, with HTTP_ in front and _ for -; "
                                  "another value matches no request, and every caller would share one bucket."))
    prefix = auth_settings.IPV6_THROTTLE_PREFIX
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not 0 <= prefix <= 128:
        errors.append(_error("GQL_AUTHTOKEN['IPV6_THROTTLE_PREFIX'] must be an int from 0 to 128.", 18,
                             hint="The number of leading bits IPv6 clients of one throttle bucket share; "
                                  "64 (the default) is one subscriber's network."))
    if auth_settings.THROTTLE_ON_CACHE_FAILURE not in THROTTLE_FAILURE_MODES:
        errors.append(_error("GQL_AUTHTOKEN['THROTTLE_ON_CACHE_FAILURE'] must be \"closed\" or \"open\".", 21,
                             hint='What throttled operations do while the cache is down: "closed" refuses them '
                                  '(the default), "open" lets them through uncounted.'))
    for name in sorted(name for name, default in DEFAULTS.items() if isinstance(default, bool)):
        value = getattr(auth_settings, name)
        if not isinstance(value, bool):  # "False" read from the environment is true
            errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] must be True or False, not {value!r}.", 27,
                                 hint='A string such as "False" (read from an environment variable) is true: '
                                      'convert it, e.g. os.environ.get("X") == "1".'))
    for name in sorted(IMPORT_STRINGS):
        value = getattr(auth_settings, name)
        if isinstance(value, str):
            try:
                import_string(value)
            except ImportError as exc:
                errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] cannot be imported: {exc}", 9))
    return errors


@register(Tags.database)
def check_imported_rest_authtoken_tokens(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """Tokens imported from django-rest-authtoken authenticate only with ACCEPT_REST_AUTHTOKEN_TOKENS.

    A database check: ``migrate`` and ``check --database`` run it, start-up does not.
    """
    from . import crypto
    from .models import AuthToken

    alias = router.db_for_read(AuthToken)
    if auth_settings.ACCEPT_REST_AUTHTOKEN_TOKENS is True or not databases or alias not in databases:
        return []
    try:
        imported = AuthToken.objects.using(alias).filter(digest__startswith=crypto.REST_AUTHTOKEN_PREFIX).exists()
    except DatabaseError:  # not migrated yet: nothing imported either
        return []
    if not imported:
        return []
    return [Warning(
        "There are tokens imported from django-rest-authtoken, but ACCEPT_REST_AUTHTOKEN_TOKENS is off: "
        "they do not authenticate.",
        hint="Set GQL_AUTHTOKEN['ACCEPT_REST_AUTHTOKEN_TOKENS'] = True while they live (import_tokens says so).",
        id="gql_authtoken.W008")]


@register(Tags.database)
def check_auth_cookie_clients(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[Any]:
    """``AUTH_COOKIE["CLIENTS"]`` names ``Client`` rows: a misspelt name would leave the cookie off
    for that app without a word (its tokens in the body). A database check, like W008."""
    from .models import Client

    value = auth_settings.AUTH_COOKIE
    names = value.get("CLIENTS") if isinstance(value, dict) else None
    alias = router.db_for_read(Client)
    if not isinstance(names, (list, tuple, set, frozenset)) or not databases or alias not in databases:
        return []
    wanted = {name for name in names if isinstance(name, str)}
    try:
        missing = sorted(wanted - set(Client.objects.using(alias).filter(name__in=wanted)
                                      .values_list("name", flat=True)))
    except DatabaseError:  # not migrated yet
        return []
    if not missing:
        return []
    return [Warning(
        f"GQL_AUTHTOKEN['AUTH_COOKIE']['CLIENTS'] names no Client row: {', '.join(map(repr, missing))}.",
        hint="Logins with such a client fail with unknown_client until it exists: create it "
             "(manage.py create_client NAME) or correct the name.",
        id="gql_authtoken.W009")]


@register()
def check_database_routers(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Django's authentication backends read the user where the router reads (see ``primary``)."""
    from django.contrib.auth import get_user_model

    from .primary import ROUTER_PATH, PrimaryForCredentialChecks

    model = get_user_model()
    read, write = router.db_for_read(model), router.db_for_write(model)
    routers = list(getattr(settings, "DATABASE_ROUTERS", []))
    first = routers[0] if routers else None
    if read == write or first == ROUTER_PATH or isinstance(first, PrimaryForCredentialChecks):
        return []
    return [Warning(
        f"Your DATABASE_ROUTERS read users from {read!r} but write them to {write!r}: Django's authentication "
        "backends check a login's password there, so right after a registration or a password change a "
        "replica that lags refuses the right password (it never lets an old one log in: the token is "
        "issued against the password hash on the primary).",
        hint=f"Put {ROUTER_PATH!r} first in DATABASE_ROUTERS: it sends the reads of a login's password "
             "check to the primary and leaves every other read to your router.",
        id="gql_authtoken.W010")]


@register()
def check_sqlite_transaction_mode(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The token tables on SQLite with Django's default transactions (DEFERRED)."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from .models import AuthToken

    aliases = sorted({router.db_for_write(AuthToken), router.db_for_write(get_user_model())})
    return [warning for alias in aliases
            for warning in sqlite_transaction_mode_warnings(alias, connections.settings[alias],
                                                            vendor=connections[alias].vendor)]


def sqlite_transaction_mode_warnings(alias: str, database: dict[str, Any], *, vendor: str) -> list[Any]:
    """W011 for ``database`` (a ``DATABASES`` entry of ``vendor``, SpatiaLite's "sqlite" too):
    SQLite lets one writer in at a time, and a DEFERRED transaction that read first cannot start
    writing while another writes: it fails at once with "database is locked" (SQLite's own rule;
    Django's docs, SQLite notes)."""
    if vendor != "sqlite":
        return []
    mode = str((database.get("OPTIONS") or {}).get("transaction_mode") or "DEFERRED").upper()
    if mode in ("IMMEDIATE", "EXCLUSIVE"):
        return []
    return [Warning(
        f"The token tables are on SQLite ({alias!r}) with {mode} transactions: two logins, logouts or "
        "refreshes at the same moment can fail with 'database is locked' (a 500), because a transaction "
        "that read first cannot start writing while another one writes.",
        hint=f'Set DATABASES[{alias!r}]["OPTIONS"] = {{"transaction_mode": "IMMEDIATE"}} (docs/install.md): '
             "writers then wait for each other (up to the \"timeout\" option) instead of failing.",
        id="gql_authtoken.W011")]


@register()
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [_error(f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.", 10,
                       hint=f"Add it after {AUTH_MIDDLEWARE_PATH}.")]
    if AUTH_MIDDLEWARE_PATH in middleware and middleware.index(AUTH_MIDDLEWARE_PATH) > middleware.index(
        MIDDLEWARE_PATH
    ):
        return [_error(f"{MIDDLEWARE_PATH} must come after {AUTH_MIDDLEWARE_PATH}.", 11,
                       hint="Otherwise the session user replaces the token user.")]
    return []


def _routed_views() -> list[tuple[str, Any]]:
    """Every view the root URLconf routes, as (route, callback). Entries that are neither a
    pattern nor an include are skipped: Django's own check reports them (``urls.E004``)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(resolver: Any, prefix: str) -> Any:
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    return list(walk(get_resolver(), ""))


@register(Tags.urls)
def check_atomic_async_graphql_views(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """An ``AsyncGraphQLView`` routed while a database has ``ATOMIC_REQUESTS``: Django refuses every
    request to it (``RuntimeError: You cannot use ATOMIC_REQUESTS with async views``, a 500)."""
    from asgiref.sync import iscoroutinefunction
    from django.db import connections

    from .middleware import _is_graphql_view

    atomic = [alias for alias in connections.settings if connections.settings[alias].get("ATOMIC_REQUESTS")]
    if not atomic:
        return []
    errors = []
    for route, view in _routed_views():
        refused = set(atomic) - set(getattr(view, "_non_atomic_requests", ()))
        if refused and _is_graphql_view(view) and iscoroutinefunction(view):
            errors.append(_error(
                f"The async GraphQL view at {route!r} runs under ATOMIC_REQUESTS ({', '.join(sorted(refused))}): "
                "Django refuses every request to it (RuntimeError, a 500).", 31,
                hint="Wrap it: transaction.non_atomic_requests(AsyncGraphQLView.as_view(schema=schema)), or use "
                     "GraphQLView (docs/graphql.md)."))
    return errors


@register(Tags.urls)
def check_rest_framework_app(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The REST endpoints are routed (``gql_authtoken.urls`` or its views or subclasses of them,
    under any prefix), but
    DRF's app is not installed: its browsable pages (a browser's GET of ``auth/login/``) fail with a
    500 (``TemplateDoesNotExist: rest_framework/api.html``)."""
    from django.apps import apps

    if apps.is_installed("rest_framework"):
        return []
    routed = [route for route, view in _routed_views()
              if any(cls.__module__.startswith("gql_authtoken.rest.")
                     for cls in getattr(getattr(view, "view_class", None), "__mro__", ()))]
    if not routed:
        return []  # GraphQL only: DRF's pages are never served
    return [Warning(
        f'"rest_framework" is not in INSTALLED_APPS, but the REST endpoints are routed ({routed[0]!r}): '
        "a browser opening one gets a 500 (DRF's page templates are missing); JSON clients are not affected.",
        hint='Add "rest_framework" to INSTALLED_APPS.', id="gql_authtoken.W012")]


@register()
def check_api_access(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if auth_settings.API_ACCESS_RESPONSE_INCLUDE_TOKEN:
        return [Warning(
            "GQL_AUTHTOKEN['API_ACCESS_RESPONSE_INCLUDE_TOKEN'] has no effect: only token digests are "
            "stored, so an API key can be shown only when it is created.",
            id="gql_authtoken.W001",
        )]
    return []


@register()
def check_registration(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from django.contrib.auth import get_user_model
    from django.core.exceptions import FieldDoesNotExist
    from django.urls import NoReverseMatch, reverse

    errors: list[Any] = []
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field:
        try:
            get_user_model()._meta.get_field(field)
        except FieldDoesNotExist:
            errors.append(_error(f"REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD {field!r} is not a field of the user model.",
                                 12))
    if auth_settings.REGISTRATION_EMAIL_CONFIRM and not auth_settings.REGISTRATION_CONFIRM_URL:
        email = auth_settings.REGISTRATION_EMAIL or {}
        if not email.get("BASE_URL"):
            errors.append(_error(
                "Email confirmation links need GQL_AUTHTOKEN['REGISTRATION_EMAIL']['BASE_URL'] "
                "(or REGISTRATION_CONFIRM_URL).", 13,
                hint="Links are never built from the request's Host header, which a client controls."))
        try:
            reverse("gql_authtoken:register-confirm", kwargs={"token": "x"})
        except NoReverseMatch:
            errors.append(Warning(
                "The default confirmation link points at the REST confirm URL, which is not mounted.",
                hint='Add path("auth/", include("gql_authtoken.urls")) or set REGISTRATION_CONFIRM_URL.',
                id="gql_authtoken.W002"))
        else:
            errors += _check_confirm_page_template()
    return errors


@register()
def check_password_reset(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``sendPasswordResetEmail`` mails nothing until ``PASSWORD_RESET_URL`` is set (API.md §7)."""
    url = auth_settings.PASSWORD_RESET_URL
    errors: list[Any] = []
    if url is None:
        errors.append(Warning(
            "GQL_AUTHTOKEN['PASSWORD_RESET_URL'] is not set: sendPasswordResetEmail and REST password/reset/ "
            "answer success but mail nothing.",
            hint='Set it to your front end\'s reset page, e.g. "https://app.example.com/reset/{token}", or add '
                 '"gql_authtoken.W007" to SILENCED_SYSTEM_CHECKS if you offer no password reset.',
            id="gql_authtoken.W007"))
    elif not isinstance(url, str) or "{token}" not in url:
        errors.append(_error("GQL_AUTHTOKEN['PASSWORD_RESET_URL'] must be a string with {token} in it.", 25,
                             hint='For example "https://app.example.com/reset/{token}".'))
    email = auth_settings.PASSWORD_RESET_EMAIL
    if not isinstance(email, dict) or set(email) - {"FROM", "SUBJECT", "MESSAGE"}:
        errors.append(_error("GQL_AUTHTOKEN['PASSWORD_RESET_EMAIL'] must be a dict with the keys FROM, SUBJECT "
                             "and MESSAGE (each optional).", 26))
    return errors


@register()
def check_cache(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The token cache and the throttle counters need a cache every process shares."""
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.dummy import DummyCache
    from django.core.cache.backends.filebased import FileBasedCache

    from .cache import is_shared

    NON_ATOMIC_BACKENDS = (DatabaseCache, FileBasedCache)

    alias = auth_settings.TOKEN_CACHE_ALIAS
    if alias not in settings.CACHES:
        return []  # E008
    try:
        # Django's Redis and Memcached backends import their client library only here, at first use:
        # without it every cache call fails, so every login would be throttled ("closed") or uncounted.
        getattr(caches[alias], "_cache", None)
    except Exception as exc:  # ImportError, or django-redis's InvalidCacheBackendError wrapping one
        return [_error(f"CACHES[{alias!r}] cannot be used: {type(exc).__name__}: {exc}", 30,
                       hint="Install its client library (pip install redis for Django's RedisCache, or "
                            "gql_authtoken's [redis] extra) or correct the BACKEND.")]
    backend = type(caches[alias]).__name__
    messages: list[Any] = []
    if auth_settings.TOKEN_CACHE_TIMEOUT and not is_shared(alias):
        messages.append(Warning(
            f"The token cache is not used: CACHES[{alias!r}] ({backend}) stores nothing or is private to each "
            "process, so a logout in one worker could not reach the others. Every request looks its token up in "
            "the database.",
            hint="Point GQL_AUTHTOKEN['TOKEN_CACHE_ALIAS'] at a shared cache (Redis, Memcached, the database "
                 "cache), or set TOKEN_CACHE_TIMEOUT to 0 to say you want no token cache.",
            id="gql_authtoken.W003"))
    if getattr(caches[alias], "_ignore_exceptions", False) and (auth_settings.TOKEN_CACHE_TIMEOUT or any(
            getattr(auth_settings, name) for name in THROTTLE_RATE_SETTINGS)):
        # django-redis's IGNORE_EXCEPTIONS: a failed write looks like a success, so a revocation
        # mark lost while Redis is down goes unnoticed (nothing keeps it) for as long as the epoch lives.
        messages.append(_error(
            f"CACHES[{alias!r}] ignores Redis errors (django-redis IGNORE_EXCEPTIONS): revocations made while "
            "Redis is down would be lost, and tokens revoked then could be served from the cache after it.", 22,
            hint="Set OPTIONS['IGNORE_EXCEPTIONS'] (and DJANGO_REDIS_IGNORE_EXCEPTIONS) to False for the token "
                 "cache, e.g. in a CACHES entry of its own: gql_authtoken falls back to the database by itself "
                 "while Redis is down."))
    messages += _check_sentinel_client(alias)
    if any(getattr(auth_settings, name) for name in THROTTLE_RATE_SETTINGS):
        hint = ("Point GQL_AUTHTOKEN['TOKEN_CACHE_ALIAS'] at Redis or Memcached (shared by every process, "
                "and counting atomically), or set the throttle rates to None to turn throttling off: "
                + ", ".join(f"GQL_AUTHTOKEN[{name!r}]" for name in sorted(THROTTLE_RATE_SETTINGS)) + ".")
        if isinstance(caches[alias], DummyCache):
            messages.append(_error(
                f"Throttling counts nothing: CACHES[{alias!r}] is a DummyCache, which stores nothing.", 14, hint))
        elif isinstance(caches[alias], NON_ATOMIC_BACKENDS):
            messages.append(Warning(
                f"Throttle counts may run over under concurrent requests: CACHES[{alias!r}] ({backend}) "
                "increments with a read and a write, not atomically.",
                hint="Use Redis or Memcached for throttling under load.", id="gql_authtoken.W005"))
        elif not is_shared(alias):
            messages.append(Warning(
                f"Throttle counts are per process: CACHES[{alias!r}] ({backend}) is private to each process, so "
                "N workers allow N times the rate.", hint=hint, id="gql_authtoken.W004"))
    return messages


def _check_sentinel_client(alias: str) -> list[Any]:
    """django-redis's ``SentinelClient`` connects only through its Sentinel connection factory.

    With the default factory every connection raises ``ImproperlyConfigured``:
    the token cache counts as down from the first request on (every lookup in
    the database, every throttled call refused while ``THROTTLE_ON_CACHE_FAILURE``
    is ``"closed"``), and nothing at start-up says why.
    """
    from django.core.cache import caches

    try:
        from django_redis.cache import RedisCache
        from django_redis.client import SentinelClient
        from django_redis.pool import SentinelConnectionFactory
    except ImportError:
        return []
    if not isinstance(caches[alias], RedisCache):
        return []
    options: Any = settings.CACHES[alias].get("OPTIONS") or {}
    try:
        client = import_string(str(options.get("CLIENT_CLASS") or "django_redis.client.DefaultClient"))
        factory_path = str(options.get("CONNECTION_FACTORY") or getattr(
            settings, "DJANGO_REDIS_CONNECTION_FACTORY", "django_redis.pool.ConnectionFactory"))
        factory = import_string(factory_path)
    except ImportError:
        return []  # django-redis itself says what it cannot import
    if not (isinstance(client, type) and issubclass(client, SentinelClient)):
        return []
    if isinstance(factory, type) and issubclass(factory, SentinelConnectionFactory):
        return []
    return [_error(
        f"CACHES[{alias!r}] uses django-redis's SentinelClient with the connection factory {factory_path!r}: "
        "it cannot connect, so the token cache would be down from the first request on (every token looked "
        "up in the database, every throttled call refused).", 29,
        hint="Add OPTIONS['CONNECTION_FACTORY'] = 'django_redis.pool.SentinelConnectionFactory' to this cache "
             "(or set DJANGO_REDIS_CONNECTION_FACTORY to it), with OPTIONS['SENTINELS'].")]


def _check_confirm_page_template() -> list[Any]:
    """The link's page is a Django template shipped in the package: an API-only
    project without a template engine would answer its GET with a 500."""
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    from .rest.views import ConfirmEmailView

    try:
        get_template(ConfirmEmailView.template_name)
    except TemplateDoesNotExist:
        return [_error(
            f"The confirmation link's page {ConfirmEmailView.template_name!r} cannot be loaded.", 15,
            hint="Add a DjangoTemplates engine with APP_DIRS=True to TEMPLATES.")]
    return []


CSRF_MIDDLEWARE_PATH = "django.middleware.csrf.CsrfViewMiddleware"
# A cookie name is an RFC 6265 "token": visible ASCII without separators.
_COOKIE_NAME_CHARACTERS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@register()
def check_auth_cookie(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``AUTH_COOKIE`` (API.md §11): its shape and values, and the CSRF protection it relies on."""
    from .cookies import COOKIE_DEFAULTS, COOKIE_KEYS, SAMESITE_VALUES

    value = auth_settings.AUTH_COOKIE
    if value is None:
        return []
    hint = ('For example {"CLIENTS": ["web"]}; optional: "NAME", "SECURE", "SAMESITE", "DOMAIN", "PATH". '
            "None turns the cookie off.")
    if not isinstance(value, dict):
        return [_error("GQL_AUTHTOKEN['AUTH_COOKIE'] must be a dict or None.", 23, hint)]
    problems = [f"unknown key {key!r}" for key in sorted(set(value) - COOKIE_KEYS, key=str)]
    clients = value.get("CLIENTS")
    if isinstance(clients, str) or not isinstance(clients, (list, tuple, set, frozenset)) or not clients or not all(
            isinstance(name, str) and name for name in clients):
        problems.append("CLIENTS must be a non-empty list of client names")
    merged = {**COOKIE_DEFAULTS, **value}
    name = merged["NAME"]
    if not isinstance(name, str) or not name or not set(name) <= _COOKIE_NAME_CHARACTERS:
        problems.append("NAME must be a cookie name (letters, digits and !#$%&'*+-.^_`|~)")
    elif name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
        problems.append("NAME must differ from SESSION_COOKIE_NAME and CSRF_COOKIE_NAME")
    if not isinstance(merged["SECURE"], bool):
        problems.append("SECURE must be True or False")
    if merged["SAMESITE"] not in SAMESITE_VALUES:
        problems.append(f"SAMESITE must be one of {', '.join(map(repr, SAMESITE_VALUES))}")
    elif merged["SAMESITE"] == "None" and merged["SECURE"] is not True:
        problems.append("SAMESITE 'None' needs SECURE True (browsers drop such a cookie otherwise)")
    if merged["DOMAIN"] is not None and (not isinstance(merged["DOMAIN"], str) or not merged["DOMAIN"]):
        problems.append("DOMAIN must be a domain name or None")
    if not isinstance(merged["PATH"], str) or not merged["PATH"].startswith("/"):
        problems.append("PATH must be a URL path starting with '/'")
    # Browsers drop such cookies silently (RFC 6265bis cookie prefixes): the login would "work" and set nothing.
    if isinstance(name, str) and name.startswith(("__Secure-", "__Host-")) and merged["SECURE"] is not True:
        problems.append("a NAME starting with __Secure- or __Host- needs SECURE True")
    if isinstance(name, str) and name.startswith("__Host-") and (merged["PATH"] != "/" or merged["DOMAIN"] is not None):
        problems.append("a NAME starting with __Host- needs PATH '/' and DOMAIN None")
    errors: list[Any] = [_error(f"GQL_AUTHTOKEN['AUTH_COOKIE']: {problem}.", 23, hint) for problem in problems]
    if CSRF_MIDDLEWARE_PATH not in (getattr(settings, "MIDDLEWARE", None) or []):
        errors.append(_error(
            f"GQL_AUTHTOKEN['AUTH_COOKIE'] needs {CSRF_MIDDLEWARE_PATH} in MIDDLEWARE.", 24,
            hint="Browsers send the cookie with requests other sites start; Django's CSRF check is what "
                 "refuses them (API.md §8)."))
    if not problems and merged["SECURE"] is False and not settings.DEBUG:
        errors.append(Warning(
            "GQL_AUTHTOKEN['AUTH_COOKIE'] has SECURE False: browsers send the token over plain HTTP too.",
            hint="Use SECURE True (the default) wherever the site is served over HTTPS.",
            id="gql_authtoken.W006"))
    return errors
