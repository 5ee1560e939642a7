import importlib.util

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GqlAuthtokenConfig(AppConfig):
    name = "gql_authtoken"
    label = "gql_authtoken"
    verbose_name = _("Token authentication")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (checks register themselves)
        from .accounts import user_changes

        receivers.connect()
        user_changes.watch_password_checks()
        if importlib.util.find_spec("drf_spectacular") is not None:
            from .rest import openapi  # noqa: F401  (registers the OpenAPI auth scheme)
