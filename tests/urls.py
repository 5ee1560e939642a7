from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.http import JsonResponse
from django.urls import include, path
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView
from strawberry.django.views import AsyncGraphQLView, GraphQLView

from gql_authtoken.admin import send_confirmation_emails, send_password_reset_emails
from gql_authtoken.rest import (
    AllowSpecificClients,
    CachedTokenAuthentication,
    DisallowSpecificClients,
    TokenAuthentication,
    UserClientRateThrottle,
    request_token,
)

from .schema import batch_schema, limited_batch_schema, schema


class UserAdminWithConfirmation(UserAdmin):
    """As the docs suggest: the package's action on the project's user admin."""

    actions = [send_confirmation_emails, send_password_reset_emails]


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdminWithConfirmation)


def whoami(request):
    """A plain Django view: the middleware authenticates it too."""
    return JsonResponse({"user": request.user.get_username() or None,
                         "auth": request.auth.pk if request.auth is not None else None})


def broken(request):
    """A view that fails after reading the request's user (the token is looked up)."""
    raise RuntimeError(f"the view failed for {request.user.get_username()}")


async def awhoami(request):
    user = await request.auser()
    return JsonResponse({"user": user.get_username() or None,
                         "auth": request.auth.pk if request.auth is not None else None})


def untouched(request):
    """Never looks at the user: a token header must cost no query here."""
    return JsonResponse({"ok": True})


class WebOnly(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [AllowSpecificClients]
    allowed_clients_name = ("web",)

    def get(self, request):
        return Response({"ok": True})


class CachedWhoami(APIView):
    authentication_classes = [CachedTokenAuthentication]

    def get(self, request):
        return Response({"user": request.user.get_username(), "session": request.auth.pk})


class OptionalWhoami(APIView):
    """Anonymous or token-authenticated: the same request both ways (benchmarks)."""

    authentication_classes = [CachedTokenAuthentication]
    permission_classes = []

    def get(self, request):
        return Response({"user": request.user.get_username() or None})


class NotCli(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [DisallowSpecificClients]
    disallowed_clients_name = ("cli",)

    def get(self, request):
        return Response({"ok": True})


# DRF's default order with the token class appended: SessionAuthentication takes the user the
# token middleware set, and request.auth is None (rest.request_token finds the token).
SESSION_FIRST = [SessionAuthentication, TokenAuthentication]


class SessionFirstWebOnly(WebOnly):
    authentication_classes = SESSION_FIRST


class SessionFirstNotCli(NotCli):
    authentication_classes = SESSION_FIRST


class SessionFirstThrottled(APIView):
    authentication_classes = SESSION_FIRST
    throttle_classes = [UserClientRateThrottle]

    def get(self, request):
        token = request_token(request)
        return Response({"user": request.user.get_username(), "token": token.pk if token else None})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/sync/", GraphQLView.as_view(schema=schema)),
    path("graphql/async/", AsyncGraphQLView.as_view(schema=schema)),
    # As docs/graphql.md says to serve it where ATOMIC_REQUESTS is on (Django refuses async views there).
    path("graphql/async-non-atomic/", transaction.non_atomic_requests(AsyncGraphQLView.as_view(schema=schema))),
    path("graphql/batch/", GraphQLView.as_view(schema=batch_schema)),
    path("graphql/async-batch/", AsyncGraphQLView.as_view(schema=batch_schema)),
    path("graphql/limited-batch/", GraphQLView.as_view(schema=limited_batch_schema)),
    path("graphql/uploads/", GraphQLView.as_view(schema=schema, multipart_uploads_enabled=True)),
    path("auth/", include("gql_authtoken.urls")),
    path("whoami/", whoami),
    path("broken/", broken),
    path("awhoami/", awhoami),
    path("untouched/", untouched),
    path("web-only/", WebOnly.as_view()),
    path("not-cli/", NotCli.as_view()),
    path("cached/", CachedWhoami.as_view()),
    path("optional/", OptionalWhoami.as_view()),
    path("session-first/web-only/", SessionFirstWebOnly.as_view()),
    path("session-first/not-cli/", SessionFirstNotCli.as_view()),
    path("session-first/throttled/", SessionFirstThrottled.as_view()),
]
