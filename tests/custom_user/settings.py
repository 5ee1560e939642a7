"""The test settings with a custom user model that signs in by email."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]  # noqa: F405
AUTH_USER_MODEL = "custom_user.EmailUser"
ROOT_URLCONF = "tests.custom_user.urls"

# Its own test database: the parent test run is still using the default one.
DATABASES["default"]["TEST"] = {"NAME": f"test_gql_authtoken_custom_user{RUN_SUFFIX}"}  # noqa: F405
