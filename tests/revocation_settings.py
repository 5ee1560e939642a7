"""Settings of the revocation matrix (tests/test_revocation.py), in the test process and its server."""

from datetime import timedelta

from tests.settings import *  # noqa: F403

GQL_AUTHTOKEN = {
    "MAX_TOKEN_LIFETIME": timedelta(minutes=30),
    "API_ACCESS_CLIENT_NAME": "api",
    "LOGIN_THROTTLE_RATE": None,
}
