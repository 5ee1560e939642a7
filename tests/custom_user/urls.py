from django.urls import include, path
from strawberry.django.views import GraphQLView

from tests.schema import schema

urlpatterns = [
    path("graphql/sync/", GraphQLView.as_view(schema=schema)),
    path("auth/", include("gql_authtoken.urls")),
]
