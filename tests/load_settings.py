"""Settings for the load test's server processes: the test settings, login throttling off
(the load generator logs in hundreds of times from one address)."""

from tests.settings import *  # noqa: F403

GQL_AUTHTOKEN = {"LOGIN_THROTTLE_RATE": None}
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
