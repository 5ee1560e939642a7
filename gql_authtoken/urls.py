"""REST endpoints: ``path("auth/", include("gql_authtoken.urls"))``."""

from typing import Any

from django.urls import URLPattern, path
from rest_framework.views import APIView

from .rest import views

app_name = "gql_authtoken"



def route(pattern: str, view_class: Any, name: str) -> list[URLPattern]:
    """``pattern`` as named, and without its trailing slash for clients written against
    durin's slash-less routes: answered in place, never a redirect that drops a POST body.
    The slash-less twin stays out of the OpenAPI description."""
    hidden = {"schema": None} if issubclass(view_class, APIView) else {}
    return [path(pattern, view_class.as_view(), name=name), path(pattern.rstrip("/"), view_class.as_view(**hidden))]


urlpatterns = [
    *route("login/", views.LoginView, "login"),
    *route("logout/", views.LogoutView, "logout"),
    *route("logoutall/", views.LogoutAllView, "logoutall"),
    *route("refresh/", views.RefreshView, "refresh"),
    *route("token/", views.TokenCheckView, "token"),
    *route("sessions/", views.SessionListView, "sessions"),
    *route("sessions/<str:session_id>/", views.SessionView, "session"),
    # django-rest-durin's router serves one session at "sessions//<id>" (its prefix
    # "sessions/" plus the router's own "/"): what reverse("durin_tokensessions-detail")
    # gives its clients. Kept out of the OpenAPI description like the slash-less twins.
    path("sessions//<str:session_id>", views.SessionView.as_view(schema=None)),
    *route("apiaccess/", views.ApiAccessView, "apiaccess"),
    *route("csrf/", views.CsrfView, "csrf"),
    *route("register/", views.RegisterView, "register"),
    *route("register/confirm/<str:token>/", views.ConfirmEmailView, "register-confirm"),
]
