"""drf_advanced_token (seeds/002): DRF's tokens behind login/, token/ (check, rotate) and logout/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..harness import PASSWORD
from . import Project, whoami_urls

if TYPE_CHECKING:
    from ..harness import Flow

# Every request of its README sends these.
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class DrfAdvancedToken(Project):
    name = "drf_advanced_token"
    source = "drf"
    legacy_apps = ("rest_framework.authtoken", "drf_advanced_token")
    legacy_middleware = ("drf_advanced_token.middleware.auth.ProcessToken",)

    def legacy_settings(self) -> dict[str, Any]:
        # "To use this, you must be using token auth".
        return {"REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"]}}

    def legacy_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path("auth/", include("drf_advanced_token.urls")), *whoami_urls()]

    def migrated_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path("auth/", include("gql_authtoken.urls")), *whoami_urls()]

    def setup(self) -> None:
        # Its model ships without a migration (an empty migrations package), so the
        # documented ``migrate`` creates no table and every PUT token/ is a 500; a
        # project using it ran ``makemigrations drf_advanced_token`` first, as this does.
        from django.db import connection
        from drf_advanced_token.models import UserAPIKeyLock

        super().setup()
        with connection.schema_editor() as editor:
            editor.create_model(UserAPIKeyLock)

    def handover_login(self, flow: Flow) -> str:
        return flow.post("handover", "/auth/login/", json_body={"username": "alice", "password": PASSWORD},
                         headers={"Accept": "application/json"})["token"]

    def flow(self, f: Flow) -> None:
        def login(step: str, **credentials: str) -> Any:
            body = {"username": "alice", "password": PASSWORD, **credentials}
            return f.post(step, "/auth/login/", json_body=body, headers={"Accept": "application/json"})

        def check(step: str, token: str | None) -> Any:
            return f.get(step, "/auth/token/", token=token, headers=JSON_HEADERS)

        first = login("login")
        f.documented(first, 200)
        token = f.start_token(first["token"])
        device2 = login("login on a second device")["token"]
        f.fact("same_token_on_every_login", device2 == first["token"])

        f.documented(check("check", token), 200)
        check("check without token", None)
        f.documented(check("check, unknown token", "9b1c4b5e-5a7e-4a39-8e62-2a8c7f1f0c11"), 401)
        f.documented(f.get("protected view", "/api/whoami/", token=token), 200)

        rotated = f.put("rotate", "/auth/token/", token=token, headers=JSON_HEADERS)
        f.documented(rotated, 200)
        new = rotated["token"]
        f.documented(check("check the old token after rotate", token), 401)
        f.documented(check("check the new token after rotate", new), 200)

        f.documented(f.get("logout", "/auth/logout/", token=new, headers=JSON_HEADERS), 200)
        f.documented(check("check after logout", new), 401)
        f.fact("second_device_still_logged_in", check("second device after logout", device2).status == 200)

        f.documented(login("login, wrong password", password="wrong"), 401)
        f.post("login, no password", "/auth/login/", json_body={"username": "alice"},
               headers={"Accept": "application/json"})
        f.fact("new_token_after_logout", login("login after logout")["token"] != new)
        f.post("login with the revoked token still in the header", "/auth/login/", token=new,
               json_body={"username": "alice", "password": PASSWORD}, headers={"Accept": "application/json"})
