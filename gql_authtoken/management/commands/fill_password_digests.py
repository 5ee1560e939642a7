from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gql_authtoken import tokens
from gql_authtoken.management import add_batch_size_argument, checked_batch_size


class Command(BaseCommand):
    help = ("Give tokens and email change links made before migration 0006 the digest of their user's "
            "password hash (once every server runs this release); safe to run while the site serves.")

    def add_arguments(self, parser: CommandParser) -> None:
        add_batch_size_argument(parser, "Users per transaction")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        count = tokens.fill_password_digests(batch_size=checked_batch_size(batch_size))  # call_command skips type
        self.stdout.write(f"Gave {count} token(s) and email change link(s) their password digest.")
