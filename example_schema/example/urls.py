from pathlib import Path

from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from strawberry.django.views import AsyncGraphQLView

from .schema import schema

# The single-page app (docs/cookies.md): static files served by the example on its own
# origin, so its requests carry the HttpOnly token cookie. A real site serves them
# from its web server or CDN; Django's static view is only for development.
APP_DIR = Path(__file__).resolve().parent.parent / "app"

urlpatterns = [
    path("admin/", admin.site.urls),
    # GraphiQL in the browser on GET; no csrf_exempt needed (see docs/security.md).
    path("graphql/", AsyncGraphQLView.as_view(schema=schema)),
    path("auth/", include("gql_authtoken.urls")),
    path("app/", serve, {"document_root": APP_DIR, "path": "index.html"}),
    path("app/<path:path>", serve, {"document_root": APP_DIR}),
]
