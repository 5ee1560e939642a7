"""The REST endpoints at /auth/ and their OpenAPI document at /openapi.json (fuzzing)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView

urlpatterns = [
    path("auth/", include("gql_authtoken.urls")),
    path("openapi.json", SpectacularJSONAPIView.as_view(urlconf="tests.urls_openapi")),
]
