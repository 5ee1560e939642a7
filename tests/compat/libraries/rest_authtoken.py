"""django-rest-authtoken (seeds/000, 001): hashed per-login tokens, registration, email confirmation.

Two projects, as its settings are read once at import: registration without
confirmation (the README's curl examples) and with it (``is_active`` as the
confirmed field, which the rendered page suggests to require confirmation),
the second one also with a ``USER_SERIALIZER``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..harness import PASSWORD
from . import Project, whoami_urls

if TYPE_CHECKING:
    from ..harness import Flow

WHOAMI = "/api/whoami/"
EMAIL = {
    "BASE_URL": "https://your-super-service.example.org",
    "FROM": "noreply@example.org",
    "SUBJECT": "Confirm your email address for FOOBAR",
    "MESSAGE": "Hello {username},\nplease visit the following link to confirm your email address: {url}\n",
}


class RestAuthtoken(Project):
    name = "rest_authtoken"
    source = "rest_authtoken"
    legacy_apps = ("rest_authtoken",)

    def registration_settings(self) -> dict[str, Any]:
        return {"REGISTRATION_ENABLED": True}

    def legacy_settings(self) -> dict[str, Any]:
        return {"REST_FRAMEWORK": {"DEFAULT_AUTHENTICATION_CLASSES": ("rest_authtoken.auth.AuthTokenAuthentication",)},
                **self.registration_settings()}

    def migrated_settings(self) -> dict[str, Any]:
        # docs/registration.md: the same names, inside GQL_AUTHTOKEN; docs/migrating.md: the
        # imported tokens authenticate with ACCEPT_REST_AUTHTOKEN_TOKENS (import_tokens says so).
        return {"GQL_AUTHTOKEN": {**self.registration_settings(), "ACCEPT_REST_AUTHTOKEN_TOKENS": True}}

    def legacy_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path("auth/", include("rest_authtoken.urls")), *whoami_urls()]

    def migrated_urls(self) -> list[Any]:
        from django.urls import include, path

        return [path("auth/", include("gql_authtoken.urls")), *whoami_urls()]

    def handover_login(self, flow: Flow) -> str:
        return flow.post("handover", "/auth/login/", form={"username": "alice", "password": PASSWORD})["token"]

    def expire_legacy_token(self, token: str) -> None:
        from base64 import urlsafe_b64decode

        from django.utils import timezone
        from rest_authtoken.models import AuthToken

        created = timezone.now() - AuthToken.TOKEN_VALIDITY - timedelta(seconds=1)
        AuthToken.objects.filter(hashed_token=AuthToken._hash_token(urlsafe_b64decode(token))).update(created=created)

    def flow(self, f: Flow) -> None:
        credentials = {"username": "alice", "password": PASSWORD}
        first = f.post("login (form, as curl --data)", "/auth/login/", form=credentials)
        f.documented(first, 200)
        token = f.start_token(first["token"])
        second = f.post("login (JSON)", "/auth/login/", json_body=credentials)
        f.fact("same_token_on_every_login", second["token"] == first["token"])

        f.documented(f.get("authenticated request", WHOAMI, token=token), 200)
        f.get("no token", WHOAMI)
        f.get("unknown token", WHOAMI, token="g8txWxa2N-u97E-VD2E6SPozZWLLePxeLHu1FsXo3J6HZx1o7ldLkQ-kosk0Vgq6")
        f.get("token that is not base64", WHOAMI, token="!!!")
        f.get("header without token", WHOAMI, authorization="Token")
        f.get("header with spaces", WHOAMI, authorization="Token a b")

        f.post("login, wrong password", "/auth/login/", form={**credentials, "password": "wrong"})
        f.post("login, no password", "/auth/login/", form={"username": "alice"})

        f.documented(f.delete("logout", "/auth/logout/", token=token), 204)
        f.get("after logout", WHOAMI, token=token)
        f.delete("logout again", "/auth/logout/", token=token)
        f.post("login with the revoked token still in the header", "/auth/login/", form=credentials, token=token)
        f.get("another session after logout", WHOAMI, token=second["token"])
        f.expire(second["token"])
        f.get("expired token", WHOAMI, token=second["token"])
        f.get("expired token, again", WHOAMI, token=second["token"])

        self.registration_flow(f)

    def registration_flow(self, f: Flow) -> None:
        john = {"username": "john", "password": "foobar123"}  # the README's example
        f.documented(f.post("register", "/auth/register/", form=john), 201)
        f.documented(f.post("register, username taken", "/auth/register/", form=john), 400)
        f.post("register, short password", "/auth/register/", form={"username": "jane", "password": "abc"})
        f.post("registered user logs in", "/auth/login/", form=john)


class RestAuthtokenConfirm(RestAuthtoken):
    name = "rest_authtoken_confirm"

    def registration_settings(self) -> dict[str, Any]:
        return {
            "REGISTRATION_ENABLED": True,
            "REGISTRATION_EMAIL_CONFIRM": True,
            "REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD": "is_active",
            "REGISTRATION_EMAIL_CONFIRM_TOKEN_VALIDITY": timedelta(days=1),
            "REGISTRATION_EMAIL": EMAIL,
            "USER_SERIALIZER": "tests.compat.serializers.UserSerializer",  # "Login (with specified USER_SERIALIZER)"
        }

    def flow(self, f: Flow) -> None:
        first = f.post("login", "/auth/login/", form={"username": "alice", "password": PASSWORD})
        f.documented(first, 200)
        f.documented(f.get("authenticated request", WHOAMI, token=f.start_token(first["token"])), 200)
        self.registration_flow(f)

    def registration_flow(self, f: Flow) -> None:
        john = {"username": "john", "password": "foobar123", "email": "john@example.org"}
        f.post("register without email", "/auth/register/", form={"username": "john", "password": "foobar123"})
        f.documented(f.post("register", "/auth/register/", form=john), 201)
        f.post("register, username taken", "/auth/register/", form={**john, "email": "other@example.org"})
        f.post("login before confirming", "/auth/login/", form=john)

        link = f.mailed_link("john@example.org")
        f.open_link("open the mailed link", link)
        f.documented(f.post("login after confirming", "/auth/login/", form=john), 200)
        f.open_link("open the used link again", link)
        f.open_link("open a made-up link", "/auth/register/confirm/bm90LWEtdG9rZW4/")

        # Usernames and emails are unique regardless of case here (API.md §9): deliberate differences.
        f.post("register again, same username and email", "/auth/register/", form=john)
        f.post("register, new username with a taken email", "/auth/register/",
               form={**john, "username": "jim"})
        f.post("register, a taken username in another case", "/auth/register/",
               form={**john, "username": "JOHN", "email": "john.upper@example.org"})
