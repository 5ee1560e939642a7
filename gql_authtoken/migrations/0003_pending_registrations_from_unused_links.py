"""Accounts that registered before pending registrations existed, and still wait, become pending.

A user counts as waiting when they have an unused confirmation link and have
never used one. Users whose ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD`` is
already true wait for nothing and are left out. Links of everyone else stay
registration links, so they are refused from now on (a link mailed to an
account created some other way can no longer activate it).
"""

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import migrations
from django.db.models import Min

from gql_authtoken.conf import auth_settings


def mark_pending_registrations(apps, schema_editor):
    EmailConfirmationToken = apps.get_model("gql_authtoken", "EmailConfirmationToken")
    PendingRegistration = apps.get_model("gql_authtoken", "PendingRegistration")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    users = User._default_manager.exclude(
        pk__in=EmailConfirmationToken.objects.filter(confirmed__isnull=False).values("user_id")
    )
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field:
        try:
            User._meta.get_field(field)
        except FieldDoesNotExist:
            pass  # system check E012 reports it
        else:
            users = users.exclude(**{field: True})
    waiting = (
        EmailConfirmationToken.objects.filter(confirmed__isnull=True, user__in=users)
        .values("user_id")
        .annotate(first_link=Min("created"))
        .order_by("user_id")
    )
    PendingRegistration.objects.bulk_create(
        (PendingRegistration(user_id=row["user_id"], created=row["first_link"]) for row in waiting.iterator()),
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('gql_authtoken', '0002_pending_registration'),
    ]

    operations = [
        migrations.RunPython(mark_pending_registrations, migrations.RunPython.noop),
    ]
