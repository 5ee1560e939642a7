from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gql_authtoken.conf import auth_settings
from gql_authtoken.importers import SOURCES, ImportRefused, import_tokens
from gql_authtoken.management import add_batch_size_argument, checked_batch_size


class Command(BaseCommand):
    help = "Import the tokens of another token library, so its clients stay logged in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="source", required=True, choices=SOURCES)
        parser.add_argument("--dry-run", action="store_true", help="Count what would be imported; write nothing.")
        add_batch_size_argument(parser, "Rows read and written per transaction")
        parser.add_argument("--delete-source", action="store_true",
                            help="Also delete the carried-over rows from the other library's table "
                                 "(DRF and durin keep keys there in plaintext).")

    def handle(
        self, *args: Any, source: str, dry_run: bool, batch_size: int, delete_source: bool, **options: Any
    ) -> None:
        batch_size = checked_batch_size(batch_size)  # call_command(batch_size=...) skips argparse's type
        try:
            summary = import_tokens(source, dry_run=dry_run, batch_size=batch_size, delete_source=delete_source)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            f"{verb} {summary.imported} of {summary.found} {source} token(s); "
            f"{summary.already_imported} already imported, {summary.expired} expired (left out)"
            + (f", {summary.users_gone} of users deleted meanwhile (left out)." if summary.users_gone else ".")
        )
        if summary.clients_created:
            verb = "Would create" if dry_run else "Created"
            self.stdout.write(f"{verb} client(s): {', '.join(summary.clients_created)}.")
        carried = summary.imported + summary.already_imported
        if source == "rest_authtoken" and carried and not auth_settings.ACCEPT_REST_AUTHTOKEN_TOKENS:
            self.stdout.write("These tokens authenticate only with GQL_AUTHTOKEN['ACCEPT_REST_AUTHTOKEN_TOKENS'] = "
                              "True in your settings (lookups then also try their digest form); set it now.")
        if delete_source:
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(f"{verb} {summary.source_deleted} carried-over row(s) from the {source} table.")
        elif carried:
            plaintext = " in plaintext" if source in ("drf", "durin") else ""
            self.stdout.write(f"The {source} table still holds the {carried} carried-over token(s){plaintext}: "
                              "once clients work, run again with --delete-source to delete them.")
