from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from gql_authtoken.admin import send_confirmation_emails, send_password_reset_emails

from .models import Note

admin.site.register(Note)


class ExampleUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, send_confirmation_emails, send_password_reset_emails]


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), ExampleUserAdmin)
