"""The test settings plus the token libraries we import from, with their own tables."""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken", "durin", "knox", "rest_authtoken",  # noqa: F405
                  "gqlauth"]
# strawberry-django-auth reads "Authorization: JWT <token>" (the benchmarks compare it).
MIDDLEWARE = [*MIDDLEWARE, "gqlauth.core.middlewares.django_jwt_middleware"]  # noqa: F405
# knox and durin both name their reverse accessor on User "auth_token_set"; the
# later app keeps it. knox's authentication walks it, durin's does not.
SILENCED_SYSTEM_CHECKS = ["fields.E304", "fields.E305"]
DATABASES["default"]["TEST"] = {"NAME": f"test_gql_authtoken_legacy{RUN_SUFFIX}"}  # noqa: F405

from gqlauth.settings_type import GqlAuthSettings  # noqa: E402

GQL_AUTH = GqlAuthSettings()  # its defaults: "JWT <token>", tokens valid for 5 minutes
