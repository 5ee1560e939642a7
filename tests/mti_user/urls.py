from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.urls import include, path
from strawberry.django.views import GraphQLView

from tests.schema import schema

from .models import Account, Member

admin.site.register(Account, UserAdmin)
admin.site.register(Member, UserAdmin)

urlpatterns = [
    path("admin/", admin.site.urls),
    path("graphql/sync/", GraphQLView.as_view(schema=schema)),
    path("auth/", include("gql_authtoken.urls")),
]
