"""Accounts that registered before pending registrations existed, and still wait, become pending.

A user counts as waiting when they have an unused confirmation link, have
never used one, and their first link was mailed when they joined (within
``REGISTRATION_WINDOW`` of ``date_joined``: ``register`` mails it at once).
The earlier release mailed links to any unconfirmed account on request, so a
link alone does not prove a registration: an account an administrator
deactivated may hold one. Users whose ``REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD``
is already true wait for nothing and are left out, and so is everyone on a
user model without ``date_joined`` (activate those by hand). Links of everyone else stay
registration links, so they are refused from now on (a link mailed to an
account created some other way can no longer activate it).
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import migrations
from django.db.models import Min

from gql_authtoken.conf import auth_settings


REGISTRATION_WINDOW = timedelta(minutes=10)


def mark_pending_registrations(apps, schema_editor):
    EmailConfirmationToken = apps.get_model("gql_authtoken", "EmailConfirmationToken")
    PendingRegistration = apps.get_model("gql_authtoken", "PendingRegistration")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    # The database being migrated, whatever DATABASE_ROUTERS say about reads (a replica may lag or lack the tables).
    db = schema_editor.connection.alias
    users = User._default_manager.db_manager(db).exclude(
        pk__in=EmailConfirmationToken.objects.using(db).filter(confirmed__isnull=False).values("user_id")
    )
    try:
        User._meta.get_field("date_joined")
    except FieldDoesNotExist:
        return
    field = auth_settings.REGISTRATION_EMAIL_CONFIRM_MODEL_FIELD
    if field:
        try:
            User._meta.get_field(field)
        except FieldDoesNotExist:
            pass  # system check E012 reports it
        else:
            users = users.exclude(**{field: True})
    waiting = (
        EmailConfirmationToken.objects.using(db).filter(confirmed__isnull=True, user__in=users)
        .values("user_id", "user__date_joined")
        .annotate(first_link=Min("created"))
        .order_by("user_id")
    )
    PendingRegistration.objects.using(db).bulk_create(
        (PendingRegistration(user_id=row["user_id"], created=row["first_link"]) for row in waiting.iterator()
         if abs(row["first_link"] - row["user__date_joined"]) <= REGISTRATION_WINDOW),
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('gql_authtoken', '0002_pending_registration'),
    ]

    operations = [
        migrations.RunPython(mark_pending_registrations, migrations.RunPython.noop),
    ]
