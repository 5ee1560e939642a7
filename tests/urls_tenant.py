"""The REST endpoints under a prefix with a converter (one set per tenant): reverse() cannot build them."""

from django.urls import include, path

urlpatterns = [path("<slug:tenant>/auth/", include("gql_authtoken.urls"))]
