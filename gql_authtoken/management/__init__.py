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


def checked_batch_size(value: object) -> int:
    """``value`` as a batch size; ``CommandError`` unless it is a whole number in ``BATCH_SIZE_RANGE``
    (0 or a negative size has no meaning; a huge one is more parameters than one query may carry).
    For the command line (argparse's ``type``) and for ``call_command(..., batch_size=...)`` alike."""
    low, high = BATCH_SIZE_RANGE
    try:
        size = int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    except ValueError:
        size = None
    if size is None or not low <= size <= high:
        raise CommandError(f"--batch-size must be a whole number from {low} to {high:,}, not {value!r}.")
    return size


def add_batch_size_argument(parser: CommandParser, help: str) -> None:
    """``--batch-size N`` (default 1000), checked by ``checked_batch_size``: on the command line
    argparse refuses a bad one with the usage line (exit status 2)."""

    def batch_size(value: str) -> int:
        try:
            return checked_batch_size(value)
        except CommandError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument("--batch-size", type=batch_size, default=1000, help=f"{help} (default 1000).")
