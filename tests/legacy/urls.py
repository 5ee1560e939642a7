"""The same DRF view behind each library's authentication class (benchmarks)."""

from django.core.cache import cache
from django.db import connection
from django.urls import include, path
from durin.auth import CachedTokenAuthentication as DurinCached
from durin.auth import TokenAuthentication as DurinToken
from gqlauth.core.middlewares import JwtSchema
from knox.auth import TokenAuthentication as KnoxToken
from rest_framework.authentication import TokenAuthentication as DrfToken
from rest_framework.response import Response
from rest_framework.views import APIView
from strawberry.django.views import GraphQLView

from gql_authtoken.rest import CachedTokenAuthentication, TokenAuthentication
from tests.schema import Mutation, Query, schema

AUTHENTICATION = {
    "gql_authtoken": TokenAuthentication,
    "gql_authtoken-cached": CachedTokenAuthentication,
    "drf": DrfToken,
    "knox": KnoxToken,
    "durin": DurinToken,
    "durin-cached": DurinCached,
}


# A small key the "one cache.get" view reads (the benchmarks set it).
FLOOR_KEY = "bench:floor"


def select_one():
    """The floor of any lookup that asks the database once: one bare query, through Django's cursor."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def whoami_view(authentication_class, *, cache_get=False, query=False):
    class Whoami(APIView):
        authentication_classes = [authentication_class]
        permission_classes = []

        def get(self, request):
            if cache_get:  # the floor of any lookup that asks a shared cache once
                cache.get(FLOOR_KEY)
            if query:
                select_one()
            return Response({"user": request.user.get_username() or None})

    return Whoami.as_view()


class SelectOneGraphQLView(GraphQLView):
    """The anonymous GraphQL request plus one bare query: the floor of an uncached token lookup."""

    def dispatch(self, request, *args, **kwargs):
        select_one()
        return super().dispatch(request, *args, **kwargs)


# The same GraphQL schema: served plainly (gql_authtoken's middleware authenticates)
# and through strawberry-django-auth's JwtSchema (its middleware decodes the JWT).
jwt_schema = JwtSchema(query=Query, mutation=Mutation)

urlpatterns = [path(f"{name}/", whoami_view(cls)) for name, cls in AUTHENTICATION.items()] + [
    path("cache-get/", whoami_view(DrfToken, cache_get=True)),
    path("select-1/", whoami_view(DrfToken, query=True)),
    path("auth/", include("gql_authtoken.urls")),
    path("graphql/", GraphQLView.as_view(schema=schema)),
    path("graphql-select-1/", SelectOneGraphQLView.as_view(schema=schema)),
    path("graphql-jwt/", GraphQLView.as_view(schema=jwt_schema)),
]
