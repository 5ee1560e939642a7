"""What clients of the libraries we replace send, as their documentation shows it (API.md §6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from gql_authtoken import clock, tokens
from gql_authtoken.models import AuthToken
from gql_authtoken.models import Client as APIClient
from gql_authtoken.rest import AllowSpecificClients, DisallowSpecificClients, TokenAuthentication
from gql_authtoken.rest.throttling import UserClientRateThrottle
from gql_authtoken.rest.views import LoginView, RefreshView

from .conftest import PASSWORD


def test_drf_advanced_token_logout_is_a_get_answered_by_a_blank_200(user, login_token):
    response = DjangoClient().get("/auth/logout/", headers={"Authorization": f"Token {login_token}"})
    assert (response.status_code, response.content) == (200, b"")
    assert "Content-Type" not in response.headers  # as its Response(None, 200): no body, so no type
    assert not AuthToken.objects.exists()
    assert DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {login_token}"}).status_code == 401


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("body", ["form", "json"])
def test_durins_slashless_routes_are_answered_in_place(user, clients, settings, debug, body):
    settings.DEBUG = debug  # APPEND_SLASH cannot redirect a POST: a 500 in DEBUG, a lost body otherwise
    data = {"username": "alice", "password": PASSWORD, "client": "web"}
    kwargs = {"data": json.dumps(data), "content_type": "application/json"} if body == "json" else {"data": data}
    response = DjangoClient().post("/auth/login", **kwargs)
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    headers = {"Authorization": f"Token {token}"}
    sessions = DjangoClient().get("/auth/sessions", headers=headers)
    assert sessions.status_code == 200 and sessions.json()[0]["has_expired"] is False
    assert DjangoClient().post("/auth/refresh", headers=headers).status_code == 200
    session_id = sessions.json()[0]["id"]
    assert DjangoClient().delete(f"/auth/sessions/{session_id}", headers=headers).status_code == 204
    assert DjangoClient().get("/auth/token", headers=headers).status_code == 401


def test_a_session_without_expiry_is_na_in_durins_words(user, clients):
    token = tokens.issue_token(user, client=clients["cli"]).token
    [session] = DjangoClient().get("/auth/sessions/", headers={"Authorization": f"Token {token}"}).json()
    assert (session["expiry"], session["has_expired"], session["expires_in_str"]) == (None, False, "N/A")


class DurinStyleLoginView(LoginView):
    """A durin ``LoginView`` subclass: ``get_post_response_data(request, token_obj)``, reading
    ``request.user`` and the attributes of durin's ``AuthToken``."""

    def get_post_response_data(self, request, token_obj):
        data = super().get_post_response_data(request, token_obj)
        return {**data, "who": request.user.get_username(), "client": token_obj.client.name,
                "session": token_obj.instance.pk, "pk": token_obj.pk, "id": token_obj.id,
                "created": self.format_expiry_datetime(token_obj.created), "expires_in": token_obj.expires_in,
                "has_expired": token_obj.has_expired, "tok_len": len(token_obj.token)}


class ClientByUserLoginView(LoginView):
    """durin sets ``request.user`` before ``get_client_obj``: a subclass may pick the client by user."""

    def get_client_obj(self, request):
        if not request.user.is_authenticated:
            raise ValidationError({"detail": "get_client_obj sees no user"})
        return APIClient.objects.get(name="cli" if request.user.get_username() == "alice" else "web")


class UsernameSerializer(serializers.Serializer):
    name = serializers.SerializerMethodField()

    def get_name(self, user):
        return f"{user.get_username()} via {type(self.context['view']).__name__} ({self.context['extra']})"


class SerializerHooksLoginView(LoginView):
    def get_user_serializer_class(self):
        return UsernameSerializer

    def get_context(self):
        return {**super().get_context(), "extra": "ctx"}


class DurinStyleRefreshView(RefreshView):
    def renew_token(self, request, token):
        return super().renew_token(request, token) - timedelta(minutes=5)

    def format_expiry_datetime(self, expiry):
        return expiry.strftime("%Y-%m-%d %H:%M")


urlpatterns = [
    path("login/", DurinStyleLoginView.as_view()),
    path("byuser/login/", ClientByUserLoginView.as_view()),
    path("hooks/login/", SerializerHooksLoginView.as_view()),
    path("refresh/", DurinStyleRefreshView.as_view()),
]


@override_settings(ROOT_URLCONF=__name__)
def test_a_durin_login_view_subclass_keeps_working(user, clients):
    response = DjangoClient().post("/login/", {"username": "alice", "password": PASSWORD, "client": "web"})
    assert response.status_code == 200, response.content
    body = response.json()
    instance = AuthToken.objects.get()
    assert body["who"] == "alice" and body["client"] == "web" and body["session"] == instance.pk
    assert body["pk"] == body["id"] == instance.pk and body["has_expired"] is False
    assert body["expires_in"] == "2\xa0hours"  # the client's TTL, in Django's timesince words
    assert body["created"] == LoginView().format_expiry_datetime(instance.created)
    assert body["tok_len"] == len(body["token"]) and tokens.authenticate_token(body["token"]).pk == instance.pk


@override_settings(ROOT_URLCONF=__name__)
def test_durins_hooks_see_the_user_logging_in(user, other_user, clients):
    alice = DjangoClient().post("/byuser/login/", {"username": "alice", "password": PASSWORD})
    bob = DjangoClient().post("/byuser/login/", {"username": "bob", "password": PASSWORD})
    assert (alice.status_code, bob.status_code) == (200, 200), alice.content
    assert [t.client.name for t in AuthToken.objects.order_by("user__username")] == ["cli", "web"]
    # Wrong credentials are refused before any hook runs, as in durin.
    wrong = DjangoClient().post("/byuser/login/", {"username": "alice", "password": "wrong"})
    assert wrong.status_code == 400 and "non_field_errors" in wrong.json()


@override_settings(ROOT_URLCONF=__name__, GQL_AUTHTOKEN={"USER_SERIALIZER": None})
def test_durins_user_serializer_and_context_hooks(user):
    body = DjangoClient().post("/hooks/login/", {"username": "alice", "password": PASSWORD}).json()
    assert body["user"] == {"name": "alice via SerializerHooksLoginView (ctx)"}


@override_settings(ROOT_URLCONF=__name__)
def test_durins_refresh_view_hooks(user, clients):
    token = tokens.issue_token(user, client=clients["web"]).token
    response = DjangoClient().post("/refresh/", headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200
    expected = clock.now() + timedelta(hours=2) - timedelta(minutes=5)
    assert response.json()["expiry"] in {(expected - timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M")
                                         for m in (0, 1)}


@pytest.mark.parametrize("hook", ["get_token_obj", "validate_and_return_user"])
def test_a_durin_hook_that_is_never_called_is_refused_when_defined(hook):
    with pytest.raises(ImproperlyConfigured, match=hook):
        type("CustomLogin", (LoginView,), {hook: lambda *args: None})


def test_the_issued_token_never_shows_its_plaintext(user, clients):
    issued = tokens.issue_token(user, client=clients["cli"])
    assert issued.token not in repr(issued) and issued.token not in str(issued)
    assert (issued.expires_in, issued.has_expired, issued.created) == ("N/A", False, issued.instance.created)


class OnlyIOS(AllowSpecificClients):
    allowed_clients_name = ("ios",)


class NoCLI(DisallowSpecificClients):
    disallowed_clients_name = ("cli",)


class ClientView(APIView):
    authentication_classes = [TokenAuthentication]
    # Ignored by OnlyIOS and NoCLI, which set their own names (durin reads only the permission's).
    allowed_clients_name = ("cli",)
    disallowed_clients_name = ("ios",)

    def get(self, request):
        return Response({"ok": True})


@pytest.mark.parametrize(("permission", "allowed"), [(OnlyIOS, {"ios"}), (NoCLI, {"ios", "web", None}),
                                                     (AllowSpecificClients, {"cli"}),
                                                     (DisallowSpecificClients, {"cli", "web", None})])
def test_durins_permission_subclasses_name_their_clients(user, clients, permission, allowed):
    """durin's documented use: a subclass of the permission with the names; the view's names
    count only for a permission that sets none."""
    clients["ios"] = APIClient.objects.create(name="ios")
    view = type("V", (ClientView,), {"permission_classes": [permission]}).as_view()
    answers = {}
    for name in ("ios", "cli", "web", None):
        token = tokens.issue_token(user, client=clients[name] if name else None).token
        answers[name] = view(APIRequestFactory().get("/x", HTTP_AUTHORIZATION=f"Token {token}")).status_code
    assert {name for name, code in answers.items() if code == 200} == allowed
    assert set(answers.values()) <= {200, 403}
    assert view(APIRequestFactory().get("/x")).status_code == 401


class ThrottledView(APIView):
    authentication_classes = [TokenAuthentication]
    throttle_classes = [UserClientRateThrottle]

    def get(self, request):
        return Response({"ok": True})


def _statuses(token, count):
    view = ThrottledView.as_view()
    return [view(APIRequestFactory().get("/x", HTTP_AUTHORIZATION=f"Token {token}")).status_code
            for _ in range(count)]


def test_durins_default_client_rate_limits_clients_without_a_rate(settings, user, clients):
    """REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user_per_client"]: the rate of a client whose
    throttle_rate is null (and of a token of no client), as in durin."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user_per_client": "3/min"}}
    APIClient.objects.filter(name="web").update(throttle_rate="5/min")
    assert _statuses(tokens.issue_token(user, client=clients["cli"]).token, 5) == [200] * 3 + [429] * 2
    assert _statuses(tokens.issue_token(user).token, 4) == [200] * 3 + [429]
    web = APIClient.objects.get(name="web")
    assert _statuses(tokens.issue_token(user, client=web).token, 6) == [200] * 5 + [429]
    # Another user of the same client has a budget of their own.
    other = tokens.issue_token(type(user).objects.create_user("carol", password=PASSWORD), client=clients["cli"])
    assert _statuses(other.token, 1) == [200]


def test_without_a_default_rate_clients_without_a_rate_are_not_limited(user, clients):
    assert _statuses(tokens.issue_token(user, client=clients["cli"]).token, 12) == [200] * 12


def test_an_invalid_default_client_rate_is_a_check_error(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user_per_client": "3/fortnight"}}
    assert "gql_authtoken.E017" in {message.id for message in run_checks()}


def test_durins_session_route_with_its_double_slash(user, clients):
    """durin's router serves a session at ``sessions//<id>``: what its clients were given."""
    token = tokens.issue_token(user, client=clients["web"]).token
    other = tokens.issue_token(user, client=clients["cli"])
    headers = {"Authorization": f"Token {token}"}
    assert DjangoClient().delete(f"/auth/sessions//{other.instance.pk}", headers=headers).status_code == 204
    assert DjangoClient().get("/auth/token/", headers={"Authorization": f"Token {other.token}"}).status_code == 401
    assert DjangoClient().delete("/auth/sessions//987654", headers=headers).status_code == 404
