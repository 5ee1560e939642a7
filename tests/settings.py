"""Test settings: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import os
import tempfile
from urllib.parse import urlparse

SECRET_KEY = "tests-only-not-secret"

# Names that must differ between two runs on one machine (test databases, cache prefix).
RUN_SUFFIX = f"_{os.environ['GQL_AUTHTOKEN_TEST_RUN']}" if os.environ.get("GQL_AUTHTOKEN_TEST_RUN") else ""
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.admindocs",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "strawberry_django",
    "drf_spectacular",
    "gql_authtoken",
]

REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gql_authtoken.middleware.TokenAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def database_from_url(url: str) -> dict:
    parts = urlparse(url)
    assert parts.scheme in ("postgres", "postgresql"), f"unsupported DATABASE_URL scheme {parts.scheme!r}"
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/") or "postgres",
        "USER": parts.username or "postgres",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
    }


DATABASES = {
    "default": database_from_url(os.environ["DATABASE_URL"])
    if os.environ.get("DATABASE_URL")
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
}

# The token cache is used only on a cache every process shares. Without Redis
# the suite uses the file-based cache (shared by the processes of one machine),
# in a directory that the test servers started by the suite inherit.
if not os.environ.get("REDIS_URL"):
    os.environ.setdefault("GQL_AUTHTOKEN_TEST_CACHE_DIR", tempfile.mkdtemp(prefix="gql_authtoken_cache_"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        # One prefix per run (GQL_AUTHTOKEN_TEST_RUN, set by .ci/run): two runs can share a Redis db.
        "KEY_PREFIX": f"gql_authtoken_tests{RUN_SUFFIX}",
    }
    if os.environ.get("REDIS_URL")
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["GQL_AUTHTOKEN_TEST_CACHE_DIR"],
    }
}

# Fast hashing keeps the suite quick; login timing is not measured here.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German")]
DEFAULT_FROM_EMAIL = "noreply@example.com"

GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": "https://app.example.com/reset/{token}"}
