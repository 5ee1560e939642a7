from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gql_authtoken import tokens
from gql_authtoken.management import add_batch_size_argument, checked_batch_size, require_marks_written


class Command(BaseCommand):
    help = "Delete expired tokens, in batches; safe to run while the site serves."

    def add_arguments(self, parser: CommandParser) -> None:
        add_batch_size_argument(parser, "Tokens deleted per query")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        count = tokens.clear_expired_tokens(batch_size=checked_batch_size(batch_size))  # call_command skips type
        self.stdout.write(f"Deleted {count} expired token(s).")
        require_marks_written()
