from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gql_authtoken import tokens
from gql_authtoken.management import require_marks_written


class Command(BaseCommand):
    help = "Delete expired tokens, in batches; safe to run while the site serves."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000, help="Tokens deleted per query (default 1000).")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        count = tokens.clear_expired_tokens(batch_size=batch_size)
        self.stdout.write(f"Deleted {count} expired token(s).")
        require_marks_written()
