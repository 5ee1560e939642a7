"""logoutAll racing logins and refreshes of the same user (PostgreSQL: real concurrency).

logoutAll takes effect at one moment. So (A) every token whose login returned
before a logoutAll started is refused afterwards, and (B) no token that
survives was created before a logoutAll started: a login racing it either
finishes before the revocation (and is revoked) or starts after it.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from gql_authtoken import clock, tokens
from gql_authtoken.exceptions import InvalidToken
from gql_authtoken.models import AuthToken

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrency tests need PostgreSQL (set DATABASE_URL)"
)


def test_logout_all_is_atomic_against_racing_logins_and_refreshes(transactional_db, user):
    refreshed = tokens.issue_token(user)
    issued: list[tuple[str, float]] = []  # (token, monotonic time its login returned)
    stop = threading.Event()
    errors: list[BaseException] = []

    def repeatedly(action):
        def run():
            try:
                while not stop.is_set():
                    action()
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                connection.close()

        return threading.Thread(target=run)

    def log_in():
        token = tokens.issue_token(user).token
        issued.append((token, time.monotonic()))

    def refresh():
        try:
            tokens.refresh_token(refreshed.instance)
        except InvalidToken:
            pass  # revoked by a logout_all: expected

    threads = [repeatedly(log_in) for _ in range(3)] + [repeatedly(refresh)]
    checked: set[str] = set()
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.1)
        for _ in range(8):
            started, started_at = time.monotonic(), clock.now()
            tokens.logout_all(None, user)
            # (B) right away: nothing created before this revocation began is left.
            assert not AuthToken.objects.filter(user=user, created__lt=started_at).exists()
            for token, returned in list(issued):
                if returned < started and token not in checked:  # (A)
                    with pytest.raises(InvalidToken):
                        tokens.authenticate_token(token, use_cache=True)
                    checked.add(token)
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors
    assert len(issued) > 20  # the race really ran
    with pytest.raises(InvalidToken):
        tokens.authenticate_token(refreshed.token)
