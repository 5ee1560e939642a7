from django.contrib import admin
from django.urls import include, path
from strawberry.django.views import AsyncGraphQLView

from .schema import schema

urlpatterns = [
    path("admin/", admin.site.urls),
    # GraphiQL in the browser on GET; no csrf_exempt needed (see docs/security.md).
    path("graphql/", AsyncGraphQLView.as_view(schema=schema)),
    path("auth/", include("gql_authtoken.urls")),
]
