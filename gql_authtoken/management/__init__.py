"""What the management commands share."""

from django.core.management.base import CommandError

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
