"""The test settings with a custom user model that signs in by email."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]  # noqa: F405
AUTH_USER_MODEL = "custom_user.EmailUser"
ROOT_URLCONF = "tests.custom_user.urls"
