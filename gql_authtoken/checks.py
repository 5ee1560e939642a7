"""System checks for misconfiguration, reported by ``manage.py check`` at start-up."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, IMPORT_STRINGS, auth_settings

MIDDLEWARE_PATH = "gql_authtoken.middleware.TokenAuthenticationMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"

DURATION_SETTINGS = ("DEFAULT_TOKEN_TTL", "MAX_TOKEN_LIFETIME", "LAST_USED_UPDATE_INTERVAL",
                     "REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY")
OPTIONAL_DURATIONS = {"DEFAULT_TOKEN_TTL", "MAX_TOKEN_LIFETIME"}


def _error(message: str, id: int, hint: str | None = None) -> Error:
    return Error(message, hint=hint, id=f"gql_authtoken.E{id:03d}")


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    errors: list[Any] = []
    user = auth_settings.user_settings()
    if not isinstance(user, dict):
        return [_error("GQL_AUTHTOKEN must be a dict.", 1)]
    for name in sorted(set(user) - set(DEFAULTS)):
        errors.append(_error(f"GQL_AUTHTOKEN has an unknown setting {name!r}.", 2,
                             hint="See the settings reference in the docs for the valid names."))
    for name in DURATION_SETTINGS:
        value = getattr(auth_settings, name)
        if value is None and name in OPTIONAL_DURATIONS:
            continue
        if not isinstance(value, timedelta) or value < timedelta(0):
            errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] must be a non-negative timedelta.", 3))
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
    if auth_settings.TOKEN_CACHE_ALIAS not in settings.CACHES:
        errors.append(_error("GQL_AUTHTOKEN['TOKEN_CACHE_ALIAS'] names no entry of CACHES.", 8))
    for name in sorted(IMPORT_STRINGS):
        value = getattr(auth_settings, name)
        if isinstance(value, str):
            try:
                import_string(value)
            except ImportError as exc:
                errors.append(_error(f"GQL_AUTHTOKEN[{name!r}] cannot be imported: {exc}", 9))
    return errors


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
            f"The confirmation link's page {ConfirmEmailView.template_name!r} cannot be loaded.", 14,
            hint="Add a DjangoTemplates engine with APP_DIRS=True to TEMPLATES.")]
    return []
