"""Create (or reset) the demo user and the example API clients, and print the credentials.

Run again (every ``make example``), it leaves a demo user that still has the
demo password and is active alone: resetting it would be a password change,
which ends the demo's sessions (docs/security.md, Revocation)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from gql_authtoken.models import Client

USERNAME = "demo"
PASSWORD = "demo-password"
# "api" is API_ACCESS_CLIENT_NAME: the clients' API keys (auth/apiaccess/).
CLIENTS = {"web": timedelta(hours=12), "ios": timedelta(days=30), "cli": None, "api": None}


class Command(BaseCommand):
    help = "Create the demo user and the web, ios, cli and api clients."

    def handle(self, *args, **options):
        user, _ = get_user_model().objects.get_or_create(
            username=USERNAME, defaults={"email": "demo@example.com"}
        )
        if not (user.is_active and user.check_password(PASSWORD)):
            user.set_password(PASSWORD)
            user.is_active = True
            user.save()
        for name, ttl in CLIENTS.items():
            Client.objects.update_or_create(name=name, defaults={"token_ttl": ttl})
        self.stdout.write(f"Demo user: username={USERNAME} password={PASSWORD}")
        self.stdout.write(f"Clients: {', '.join(CLIENTS)}")
