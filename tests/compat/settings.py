"""A throwaway project as ``startproject`` makes it, plus one library's documented settings
(``legacy``) or gql_authtoken's (``migrated``).

Chosen by the environment ``tests/compat/run.py`` sets: ``GQL_AUTHTOKEN_COMPAT_PROJECT``,
``GQL_AUTHTOKEN_COMPAT_SIDE``, ``GQL_AUTHTOKEN_COMPAT_DB`` (a SQLite file, or the
PostgreSQL database on ``DATABASE_URL``'s server) and, with ``REDIS_URL``,
``GQL_AUTHTOKEN_COMPAT_CACHE_PREFIX``.
"""

import os
from urllib.parse import urlparse

from tests.compat.libraries import PROJECTS

COMPAT_PROJECT = os.environ["GQL_AUTHTOKEN_COMPAT_PROJECT"]
COMPAT_SIDE = os.environ["GQL_AUTHTOKEN_COMPAT_SIDE"]
assert COMPAT_SIDE in ("legacy", "migrated"), COMPAT_SIDE
_project = PROJECTS[COMPAT_PROJECT]

SECRET_KEY = "compat-suite-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
ROOT_URLCONF = "tests.compat.urls"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; no timing is measured
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the flows read the mailed links

if COMPAT_SIDE == "legacy":
    INSTALLED_APPS += _project.legacy_apps
    MIDDLEWARE += _project.legacy_middleware
    REST_FRAMEWORK: dict = {}
    globals().update(_project.legacy_settings())
else:
    # docs/install.md and docs/migrating.md: the library's apps and settings give way to ours.
    INSTALLED_APPS += ["strawberry_django", "gql_authtoken"]
    MIDDLEWARE.insert(MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
                      "gql_authtoken.middleware.TokenAuthenticationMiddleware")
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["gql_authtoken.rest.CachedTokenAuthentication"]}
    GQL_AUTHTOKEN: dict = {}
    globals().update(_project.migrated_settings())

if os.environ.get("DATABASE_URL"):
    _url = urlparse(os.environ["DATABASE_URL"])
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": os.environ["GQL_AUTHTOKEN_COMPAT_DB"],
        "USER": _url.username or "postgres", "PASSWORD": _url.password or "",
        "HOST": _url.hostname or "127.0.0.1", "PORT": str(_url.port or 5432),
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["GQL_AUTHTOKEN_COMPAT_DB"]}}

if os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": os.environ["REDIS_URL"],
                          "KEY_PREFIX": os.environ["GQL_AUTHTOKEN_COMPAT_CACHE_PREFIX"]}}
else:  # one process per side: its own memory is all the cache it needs
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
