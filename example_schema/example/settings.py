"""Settings of the example project: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent

# Where the example is served (`make example PORT=8001` sets EXAMPLE_PORT): the links in its
# mails (confirmation, password reset) point here.
EXAMPLE_URL = f"http://127.0.0.1:{os.environ.get('EXAMPLE_PORT', '8000')}"

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"

INSTALLED_APPS = [
    "daphne",  # runserver serves ASGI: HTTP and WebSocket subscriptions
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "strawberry_django",
    "gql_authtoken",
    "notes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # mails and errors in the request's language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After AuthenticationMiddleware: a token header decides who the request is.
    "gql_authtoken.middleware.TokenAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # the app and the admin are not framed
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


def database_from_url(url):
    parts = urlparse(url)
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
    else {"ENGINE": "django.db.backends.sqlite3",
          "NAME": os.environ.get("EXAMPLE_SQLITE_PATH", BASE_DIR / "db.sqlite3"),
          # Writers wait for each other instead of failing with "database is locked" (a login
          # racing a password change, docs/install.md).
          "OPTIONS": {"transaction_mode": "IMMEDIATE"}}
}

# The token cache and the throttle counters need a cache that every server process
# shares: Redis when REDIS_URL is set, else files next to the SQLite database (Django's
# default local-memory cache is private to each process; the package would not use it).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
    if os.environ.get("REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
          "LOCATION": os.environ.get("EXAMPLE_CACHE_DIR", BASE_DIR / ".cache")}
}

# The file cache counts throttle attempts with a read and a write (W005): exact enough
# for one developer's example; use Redis (REDIS_URL) under real concurrent load.
SILENCED_SYSTEM_CHECKS = [] if os.environ.get("REDIS_URL") else ["gql_authtoken.W005"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["gql_authtoken.rest.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German")]

# Confirmation mails are printed by runserver instead of being sent.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "accounts@example.com"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

GQL_AUTHTOKEN = {
    "DEFAULT_TOKEN_TTL": timedelta(days=1),
    "MAX_TOKEN_LIFETIME": timedelta(days=30),
    "REGISTRATION_ENABLED": True,
    "REGISTRATION_EMAIL_CONFIRM": True,
    # New accounts stay inactive (cannot log in) until the link is opened.
    "REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": "is_active",
    "REGISTRATION_EMAIL": {"BASE_URL": EXAMPLE_URL},
    "REGISTRATION_CONFIRM_REDIRECT_PATH": "/graphql/",
    # API keys (auth/apiaccess/) are tokens of this client; demo_user creates it.
    "API_ACCESS_CLIENT_NAME": "api",
    # Logins with client "web" (the single-page app at /app/) get the token as an HttpOnly
    # cookie instead of in the body (docs/cookies.md). SECURE is False only because the
    # example is served over plain http://127.0.0.1, where browsers would never send
    # a Secure cookie back; keep the default (True) on any site served over HTTPS.
    # Programs (curl, mobile apps, django-rest-durin clients) log in as "ios" or "cli".
    "AUTH_COOKIE": {"CLIENTS": ["web"], "SECURE": False},
    # The front end's page for reset links (there is none here: runserver prints the mail).
    "PASSWORD_RESET_URL": EXAMPLE_URL + "/reset-password/{token}",
}
