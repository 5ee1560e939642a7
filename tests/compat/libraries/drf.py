"""DRF's own authtoken, as seeds/003 (a guide to DRF token authentication) sets it up and uses it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..harness import PASSWORD
from . import Project, whoami_urls

if TYPE_CHECKING:
    from ..harness import Flow

LOGIN = "/api-token-auth/"  # the guide's path, chosen by the project
WHOAMI = "/api/whoami/"
LOGOUT = "/api/logout/"  # the guide's sample logout view


def guide_logout(request: Any) -> Any:
    """The guide's sample: delete the user's one token, answer ``{"username": None}``."""
    from rest_framework.authtoken.models import Token
    from rest_framework.response import Response

    Token.objects.get(user=request.user).delete()
    return Response({"username": None})


class DrfAuthtoken(Project):
    name = "drf"
    source = "drf"
    legacy_apps = ("rest_framework.authtoken",)

    def legacy_settings(self) -> dict[str, Any]:
        return {"REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]}}

    def legacy_urls(self) -> list[Any]:
        from django.urls import path
        from rest_framework.authtoken.views import obtain_auth_token
        from rest_framework.decorators import api_view, permission_classes
        from rest_framework.permissions import IsAuthenticated

        logout = api_view(["POST"])(permission_classes([IsAuthenticated])(guide_logout))
        return [path(LOGIN[1:], obtain_auth_token), path(LOGOUT[1:], logout), *whoami_urls()]

    def migrated_urls(self) -> list[Any]:
        # docs/migrating.md: our views at the paths the project had chosen.
        from django.urls import include, path

        from gql_authtoken.rest.views import LoginView, LogoutView

        return [path(LOGIN[1:], LoginView.as_view()), path(LOGOUT[1:], LogoutView.as_view()),
                path("auth/", include("gql_authtoken.urls")), *whoami_urls()]

    def handover_login(self, flow: Flow) -> str:
        return flow.post("handover", LOGIN, json_body={"username": "alice", "password": PASSWORD})["token"]

    def flow(self, f: Flow) -> None:
        credentials = {"username": "alice", "password": PASSWORD}
        first = f.post("login (JSON)", LOGIN, json_body=credentials)
        f.documented(first, 200)
        token = f.start_token(first["token"])
        second = f.post("login (form)", LOGIN, form=credentials)
        f.fact("same_token_on_every_login", second["token"] == first["token"])

        f.documented(f.get("authenticated request", WHOAMI, token=token), 200)
        f.get("authenticated request, keyword in lower case", WHOAMI, authorization=f"token {token}")
        f.documented(f.get("no token", WHOAMI), 401)
        f.get("unknown token", WHOAMI, token="0cd22429267deae3b7efb2c96012ff4b01792780")
        f.get("header without token", WHOAMI, authorization="Token")
        f.get("header with spaces", WHOAMI, authorization="Token a b")
        f.get("header with invalid characters", WHOAMI, authorization="Token \xe9t\xe9")

        f.documented(f.post("login, wrong password", LOGIN, json_body={**credentials, "password": "wrong"}), 400)
        f.post("login, no password", LOGIN, json_body={"username": "alice"})

        f.documented(f.post("logout", LOGOUT, token=token), 200)
        f.documented(f.get("after logout", WHOAMI, token=token), 401)
        again = f.post("login after logout", LOGIN, json_body=credentials)
        f.fact("new_token_after_logout", again["token"] != token)
        f.post("login with the revoked token still in the header", LOGIN, json_body=credentials, token=token)
