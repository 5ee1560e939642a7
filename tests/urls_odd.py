"""A URLconf with a mistake (an entry that is not a pattern, which Django's own check reports as
urls.E004), an async GraphQL view, and one REST view routed on its own, without the include."""

from django.urls import path
from strawberry.django.views import AsyncGraphQLView

from gql_authtoken.rest.views import LoginView

from .schema import schema

urlpatterns = [
    path("graphql/", AsyncGraphQLView.as_view(schema=schema)),
    path("login/", LoginView.as_view()),
    "oops/",
]
