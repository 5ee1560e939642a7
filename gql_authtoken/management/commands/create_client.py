from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string

from gql_authtoken import clients
from gql_authtoken.conf import auth_settings
from gql_authtoken.exceptions import ValidationFailed
from gql_authtoken.models import LONGEST_TOKEN_LIFETIME
from gql_authtoken.tokens import lifetime_in_words

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # any instant: a lifetime in words needs two


def parse_ttl(value: str) -> timedelta | None:
    """``3600`` (seconds), a Django/ISO 8601 duration (``1 00:00:00``, ``P30D``) or ``none``."""
    if value.strip().lower() == "none":
        return None
    duration: timedelta | None
    try:
        if value.strip().isascii() and value.strip().isdigit():
            duration = timedelta(seconds=int(value))
        else:
            duration = parse_duration(value.strip())
    except (OverflowError, ValueError):
        duration = None
    if duration is None:
        raise CommandError(f"--ttl {value!r} is not seconds, a duration (e.g. P30D, '1 00:00:00') or none.")
    if not timedelta(0) < duration <= LONGEST_TOKEN_LIFETIME:  # the model's own rule (validate_token_ttl)
        raise CommandError(f"--ttl {value!r} must be above 0 and at most {LONGEST_TOKEN_LIFETIME.days} days, "
                           "or none for tokens that never expire.")
    return duration


class Command(BaseCommand):
    help = "Create an API client (web, ios, cli...) with its token lifetime and rate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--ttl", help="Token lifetime: seconds, a duration (P30D) or none. "
                                          "Default: DEFAULT_TOKEN_TTL.")
        parser.add_argument("--throttle-rate", help="A DRF rate such as 100/hour (default: none).")

    def handle(self, *args: Any, name: str, ttl: str | None, throttle_rate: str | None, **options: Any) -> None:
        token_ttl = auth_settings.DEFAULT_TOKEN_TTL if ttl is None else parse_ttl(ttl)
        try:
            client = clients.create_client(name, token_ttl=token_ttl, throttle_rate=throttle_rate)
        except ValidationFailed as error:
            raise CommandError(" ".join(str(e.message) for e in error.field_errors())) from None
        if client.token_ttl is None:
            ttl_text = "never expire"
        else:  # timesince words nothing under a minute ("0 minutes")
            words = (lifetime_in_words(EPOCH, EPOCH + client.token_ttl) if client.token_ttl >= timedelta(minutes=1)
                     else f"{client.token_ttl.total_seconds():g} second(s)")
            ttl_text = f"live {words} ({duration_iso_string(client.token_ttl)})"
        self.stdout.write(f"Created client {client.name!r}: tokens {ttl_text}, rate {client.throttle_rate or 'none'}.")
