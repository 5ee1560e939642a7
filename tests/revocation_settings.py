"""Settings of the revocation matrix (tests/test_revocation.py), in the test process and its server."""

import os
from datetime import timedelta

from tests.settings import *  # noqa: F403

GQL_AUTHTOKEN = {
    "MAX_TOKEN_LIFETIME": timedelta(minutes=30),
    "API_ACCESS_CLIENT_NAME": "api",
    "LOGIN_THROTTLE_RATE": None,
    # tests/test_local_hits.py starts a server that keeps hits longer than the default.
    "TOKEN_LOCAL_CACHE_TIMEOUT": float(os.environ.get("GQL_AUTHTOKEN_TEST_LOCAL_TIMEOUT", "0.05")),
}
