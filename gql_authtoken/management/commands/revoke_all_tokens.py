from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gql_authtoken import tokens
from gql_authtoken.management import require_marks_written


class Command(BaseCommand):
    help = "Revoke every token of every user (everyone must log in again). Needs --force."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Really revoke all tokens.")

    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        if not force:
            raise CommandError("This logs every user out everywhere. Run it again with --force to do it.")
        count = tokens.revoke_every_token()
        self.stdout.write(f"Revoked {count} token(s).")
        require_marks_written()
