"""Tokens and email change links keep the digest of the password hash they rest on.

Rows that exist now get the digest of their user's hash as stored now: they
were issued under it, or under an earlier one whose change (through ``save()``)
already revoked them. So a hash written later without ``save()``
(``QuerySet.update()``, raw SQL) ends them too (docs/security.md, Revocation).
One UPDATE per user with tokens or pending email changes. ``db_default`` lets
servers still running the previous release insert rows while this is deployed.
"""

import hashlib

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import migrations, models


def fill_password_digests(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    try:
        User._meta.get_field("password")
    except FieldDoesNotExist:
        return  # nothing to rest on: the rows stay unchecked
    # The database being migrated, whatever DATABASE_ROUTERS say about reads.
    db = schema_editor.connection.alias
    for model, rows in [
        ("AuthToken", {}),
        ("EmailConfirmationToken", {"purpose": "email_change", "confirmed__isnull": True}),
    ]:
        manager = apps.get_model("gql_authtoken", model).objects.using(db)
        users = manager.filter(password_digest="", **rows).values_list("user_id", "user__password")
        for user_id, password in users.distinct().order_by("user_id").iterator():
            digest = hashlib.sha256(password.encode()).hexdigest()  # models.password_digest, as of this release
            manager.filter(user_id=user_id, password_digest="", **rows).update(password_digest=digest)


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('gql_authtoken', '0005_email_change_purpose'),
    ]

    operations = [
        migrations.AddField(
            model_name='authtoken',
            name='password_digest',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64, verbose_name='password digest'),
        ),
        migrations.AddField(
            model_name='emailconfirmationtoken',
            name='password_digest',
            field=models.CharField(blank=True, db_default='', default='', editable=False, max_length=64, verbose_name='password digest'),
        ),
        migrations.RunPython(fill_password_digests, migrations.RunPython.noop),
    ]
