"""A fresh project on the package's and Django's defaults: local-memory cache, no GQL_AUTHTOKEN.

The database is an SQLite file (``GQL_AUTHTOKEN_DEFAULT_DB``) that several server processes share.
"""

import os

from django.conf import global_settings

from tests.settings import *  # noqa: F403

CACHES = global_settings.CACHES
GQL_AUTHTOKEN = {}
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["GQL_AUTHTOKEN_DEFAULT_DB"]}}
