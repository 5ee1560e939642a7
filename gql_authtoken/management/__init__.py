"""What the management commands share."""

import argparse

from django.core.management.base import CommandError, CommandParser

from gql_authtoken import cache_access


def require_marks_written() -> None:
    """End a command that revoked tokens only once its revocation marks are in the token cache.

    Waits up to ``cache_access.EXIT_FLUSH_TIMEOUT`` seconds for marks the cache
    refused or did not answer (``cache_access.flush_pending``); raises
    ``CommandError`` (message on stderr, exit status 1) if some are still
    unwritten, since a cached entry of a revoked token could then be served
    (docs/deployment.md, "When Redis is down").
    """
    left = len(cache_access.pending())
    if not cache_access.flush_pending(cache_access.EXIT_FLUSH_TIMEOUT):
        raise CommandError(
            f"The tokens are revoked in the database, but the token cache did not answer: {left} revocation "
            "mark(s) could not be written, so processes may still accept the revoked tokens from their cache "
            "for a while. Run the command again once the cache answers, or empty the token cache.")


#: ``--batch-size`` bounds: each batch is one query's key list (and, for imports, one transaction).
BATCH_SIZE_RANGE = (1, 10_000)


def add_batch_size_argument(parser: CommandParser, help: str) -> None:
    """``--batch-size N`` (default 1000), refused by argparse outside ``BATCH_SIZE_RANGE`` (exit
    status 2 with the usage line): 0 or a negative size has no meaning, and a huge one is more
    parameters than one query may carry (PostgreSQL's bigint, SQLite's variable limit)."""
    low, high = BATCH_SIZE_RANGE

    def batch_size(value: str) -> int:
        try:
            size = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= size <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high:,}, not {value}")
        return size

    parser.add_argument("--batch-size", type=batch_size, default=1000, help=f"{help} (default 1000).")
