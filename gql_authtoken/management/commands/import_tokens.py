from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gql_authtoken.importers import SOURCES, ImportRefused, import_tokens


class Command(BaseCommand):
    help = "Import the tokens of another token library, so its clients stay logged in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, choices=SOURCES)
        parser.add_argument("--dry-run", action="store_true", help="Count what would be imported; write nothing.")
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, source: str, dry_run: bool, batch_size: int, **options: Any) -> None:
        try:
            summary = import_tokens(source, dry_run=dry_run, batch_size=batch_size)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} {summary.imported} of {summary.found} {source} token(s); "
            f"{summary.already_imported} already imported, {summary.expired} expired (left out)."
        )
        if summary.clients_created:
            verb = "Would create" if dry_run else "Created"
            self.stdout.write(f"{verb} client(s): {', '.join(summary.clients_created)}.")
