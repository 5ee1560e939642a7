"""A URLconf with a mistake (an entry that is not a pattern, which Django's own check reports as
urls.E004), an async GraphQL view, and a project's subclass of a REST view routed on its own."""

from django.urls import path
from strawberry.django.views import AsyncGraphQLView

from gql_authtoken.rest.views import LoginView

from .schema import schema


class ProjectLoginView(LoginView):
    pass


urlpatterns = [
    path("graphql/", AsyncGraphQLView.as_view(schema=schema)),
    path("login/", ProjectLoginView.as_view()),
    "oops/",
]
