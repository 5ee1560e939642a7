"""The ``GQL_AUTHTOKEN`` settings, read from ``django.conf.settings`` on every access.

Nothing is cached, so ``override_settings(GQL_AUTHTOKEN=...)`` takes effect at
once without any reload call. A user dict only needs the keys it changes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "DEFAULT_TOKEN_TTL": timedelta(days=1),
    "MAX_TOKEN_LIFETIME": None,
    "TOKEN_CHARACTER_LENGTH": 64,
    "TOKEN_PREFIX": "",
    "AUTH_HEADER_PREFIXES": ("Token", "Bearer"),
    "USER_SERIALIZER": None,
    "EXPIRY_DATETIME_FORMAT": None,  # None: DRF's DATETIME_FORMAT
    "TOKEN_CACHE_TIMEOUT": 60,
    "TOKEN_CACHE_ALIAS": "default",
    # Seconds a process serves a token again from its own memory after the token cache
    # found it live (no round trip); every revocation waits as long before it returns.
    "TOKEN_LOCAL_CACHE_TIMEOUT": 0.05,
    "AUTHTOKEN_SELECT_RELATED_LIST": ["user", "client"],
    # True once `import_tokens --from rest_authtoken` carried tokens over: lookups also
    # try that library's digest form (a second hash, two digests in the query).
    "ACCEPT_REST_AUTHTOKEN_TOKENS": False,
    "LAST_USED_UPDATE_INTERVAL": timedelta(minutes=1),
    "API_ACCESS_CLIENT_NAME": None,
    "API_ACCESS_EXCLUDE_FROM_SESSIONS": False,
    "API_ACCESS_RESPONSE_INCLUDE_TOKEN": False,
    "LOGIN_THROTTLE_RATE": "10/min",  # attempts per client IP and per (account, IP)
    "LOGIN_ACCOUNT_THROTTLE_RATE": "100/hour",  # failed logins per account, from all addresses
    # The request.META key of a header your own proxy sets to the client's
    # address, e.g. "HTTP_X_FORWARDED_FOR" (its last address is used); None: REMOTE_ADDR.
    "CLIENT_IP_HEADER": None,
    # IPv6 clients share a throttle bucket per network of this many leading bits.
    "IPV6_THROTTLE_PREFIX": 64,
    # While the token cache is down: "closed" refuses throttled operations (login,
    # registration...), "open" lets them through uncounted. Tokens are checked in the database.
    "THROTTLE_ON_CACHE_FAILURE": "closed",
    "ACCOUNT_THROTTLE_RATE": "30/hour",
    "REGISTRATION_ENABLED": False,
    "REGISTRATION_EMAIL_CONFIRM": False,
    "REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": None,
    "REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY": timedelta(days=1),
    "REGISTRATION_EMAIL": {},
    "REGISTRATION_CONFIRM_URL": None,
    "REGISTRATION_CONFIRM_REDIRECT_PATH": "/",
    "REGISTRATION_CONFIRM_INVALID_REDIRECT_PATH": None,
    # False: the link's GET shows a page whose button POSTs (mail scanners open
    # links); True: GET confirms at once, as django-rest-authtoken did.
    "REGISTRATION_CONFIRM_ON_GET": False,
    # The token in an HttpOnly cookie for browser apps (API.md §11; cookies.COOKIE_DEFAULTS):
    # {"NAME", "CLIENTS", "SECURE", "SAMESITE", "DOMAIN", "PATH"}; None turns it off.
    "AUTH_COOKIE": None,
    # Password reset (API.md §10): the front-end page of a reset link, with
    # "{token}"; None: sendPasswordResetEmail mails nothing (check W007).
    "PASSWORD_RESET_URL": None,
    "PASSWORD_RESET_EMAIL": {},  # "FROM", "SUBJECT", "MESSAGE" ({username}, {url})
}

# Settings that hold a dotted path; ``import_setting`` turns them into objects.
IMPORT_STRINGS = frozenset({"USER_SERIALIZER"})


class AuthTokenSettings:
    """Attribute access to ``settings.GQL_AUTHTOKEN`` with package defaults."""

    setting_name = "GQL_AUTHTOKEN"

    def user_settings(self) -> dict[str, Any]:
        return getattr(django_settings, self.setting_name, None) or {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid {self.setting_name} setting: {name!r}")
        return self.user_settings().get(name, DEFAULTS[name])

    def import_setting(self, name: str) -> Any:
        """The object named by an import-string setting, or None when unset."""
        assert name in IMPORT_STRINGS, name
        value = getattr(self, name)
        return import_string(value) if isinstance(value, str) else value


auth_settings = AuthTokenSettings()
