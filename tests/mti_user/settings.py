"""The test settings with a multi-table user model: its password lives in a parent's table."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.mti_user"]  # noqa: F405
AUTH_USER_MODEL = "mti_user.Member"
ROOT_URLCONF = "tests.mti_user.urls"

# Its own test database: the parent test run is still using the default one.
DATABASES["default"]["TEST"] = {"NAME": f"test_gql_authtoken_mti_user{RUN_SUFFIX}"}  # noqa: F405
