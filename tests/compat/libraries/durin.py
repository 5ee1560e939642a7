"""django-rest-durin (seeds/004): per-client tokens, refresh, logoutall, sessions, API keys."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..harness import PASSWORD
from . import Project, whoami_urls

if TYPE_CHECKING:
    from ..harness import Flow

AUTH = "/api/auth/"  # its documentation mounts durin.urls at api/auth/
WHOAMI = "/api/whoami/"
# The clients an administrator set up in durin's admin (name, token_ttl).
CLIENTS = {"web": timedelta(days=1), "cli": timedelta(days=30), "api": timedelta(days=365)}


class Durin(Project):
    name = "durin"
    source = "durin"
    legacy_apps = ("durin",)

    def legacy_settings(self) -> dict[str, Any]:
        return {"REST_FRAMEWORK": {"DEFAULT_AUTHENTICATION_CLASSES": ("durin.auth.TokenAuthentication",)},
                "REST_DURIN": {"API_ACCESS_CLIENT_NAME": "api"}}

    def migrated_settings(self) -> dict[str, Any]:
        return {"GQL_AUTHTOKEN": {"API_ACCESS_CLIENT_NAME": "api"}}

    def legacy_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path(AUTH[1:], include("durin.urls")), *whoami_urls()]

    def migrated_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path(AUTH[1:], include("gql_authtoken.urls")), *whoami_urls()]

    def setup(self) -> None:
        from durin.models import Client

        super().setup()
        for name, ttl in CLIENTS.items():
            Client.objects.create(name=name, token_ttl=ttl)

    def after_import(self) -> None:
        # import_tokens brings the clients its tokens name; the administrator creates the others.
        from django.core.management import call_command

        from gql_authtoken.models import Client

        for name, ttl in CLIENTS.items():
            if not Client.objects.filter(name=name).exists():
                call_command("create_client", name, "--ttl", str(int(ttl.total_seconds())), verbosity=0)

    def handover_login(self, flow: Flow) -> str:
        return flow.post("handover", AUTH + "login/",
                         form={"username": "alice", "password": PASSWORD, "client": "web"})["token"]

    def expire_legacy_token(self, token: str) -> None:
        from django.utils import timezone
        from durin.models import AuthToken

        AuthToken.objects.filter(token=token).update(expiry=timezone.now() - timedelta(seconds=1))

    def flow(self, f: Flow) -> None:
        def login(step: str, *, json: bool = False, username: str = "alice", address: str = "127.0.0.1",
                  path: str = AUTH + "login/", **fields: str) -> Any:
            body = {"username": username, "password": PASSWORD, **fields}
            if json:
                return f.post(step, path, json_body=body, address=address)
            return f.post(step, path, form=body, address=address)

        def sessions(step: str, token: str) -> Any:
            return f.get(step, AUTH + "sessions/", token=token)

        def session(session_id: Any) -> str:
            # reverse("durin_tokensessions-detail"): its router's prefix "sessions/" plus
            # the router's own "/" make the double slash, the only form durin serves.
            return AUTH + f"sessions//{session_id}"

        first = login("login (form)", client="web")
        f.documented(first, 200)
        token = f.start_token(first["token"])
        again = login("login (JSON), same client", json=True, client="web")
        f.fact("same_token_on_every_login", again["token"] == first["token"])
        login("login without client")
        login("login, unknown client", client="tv")
        f.documented(login("login, wrong password", client="web", password="wrong"), 400)
        # Its documentation lists the routes without the slash; APPEND_SLASH cannot redirect a POST.
        login("login at the documented path without slash", client="web", path=AUTH + "login")

        f.documented(f.get("authenticated request", WHOAMI, token=token), 200)
        f.get("no token", WHOAMI)
        f.get("unknown token", WHOAMI, token="adee69d0e4bbdc6e4m9836F45E23A325")
        f.documented(f.post("refresh", AUTH + "refresh/", token=token), 200)

        f.documented(sessions("sessions", token), 200)
        f.get("sessions at the documented path without slash", AUTH + "sessions", token=token)
        cli = login("login, client cli", client="cli")["token"]
        [cli_session] = [s for s in sessions("sessions of the cli token", cli).body if s["is_current"]]
        f.documented(f.delete("revoke a session", session(cli_session["id"]), token=token), 204)
        f.get("revoked session's token", WHOAMI, token=cli)
        f.delete("revoke a session that does not exist", session(987654), token=token)
        cli = login("login, client cli again", client="cli")["token"]
        [cli_session] = [s for s in sessions("sessions of the new cli token", cli).body if s["is_current"]]
        f.delete("revoke the session of the request's own token", session(cli_session["id"]), token=cli)

        f.get("API key before there is one", AUTH + "apiaccess/", token=token)
        created = f.post("create an API key", AUTH + "apiaccess/", token=token)
        f.documented(created, 201)
        f.documented(f.get("API key", AUTH + "apiaccess/", token=token), 200)
        f.documented(f.get("request with the API key", WHOAMI, token=created["token"]), 200)
        sessions("sessions with an API key", token)
        f.post("create a second API key", AUTH + "apiaccess/", token=token)
        f.documented(f.delete("delete the API key", AUTH + "apiaccess/", token=token), 204)
        f.get("API key after deleting it", AUTH + "apiaccess/", token=token)
        f.delete("delete the API key when there is none", AUTH + "apiaccess/", token=token)

        expiring = login("bob logs in", username="bob", client="cli", address="127.0.0.3")["token"]
        f.expire(expiring)
        f.documented(f.get("expired token", WHOAMI, token=expiring), 401)
        f.get("expired token, again", WHOAMI, token=expiring)

        bob = login("bob logs in on the web", username="bob", client="web", address="127.0.0.3")["token"]
        f.documented(f.post("logout", AUTH + "logout/", token=bob), 204)
        f.get("after logout", WHOAMI, token=bob)
        f.post("logout again", AUTH + "logout/", token=bob)

        f.documented(f.post("logoutall", AUTH + "logoutall/", token=token), 204)
        f.get("after logoutall", WHOAMI, token=token)
        f.get("another session of the user after logoutall", WHOAMI, token=again["token"])
        f.post("login with the revoked token still in the header", AUTH + "login/", token=token,
               form={"username": "alice", "password": PASSWORD, "client": "web"})
