"""Production servers under load: gunicorn (WSGI) and uvicorn (ASGI), two workers each,
sharing PostgreSQL and Redis. Zero 5xx, and no revoked token accepted after its
revocation returned, whichever worker answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from .benchmarks.load import run_load
from .conftest import PASSWORD, free_port, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or "redis" not in settings.CACHES["default"]["BACKEND"],
    reason="the load test needs PostgreSQL and Redis shared by its server processes (DATABASE_URL, REDIS_URL)",
)

SERVERS = {
    "gunicorn": ["-m", "gunicorn", "--workers", "2", "--threads", "4", "--bind", "127.0.0.1:{port}",
                 "--log-level", "warning", "tests.wsgi:application"],
    "uvicorn": ["-m", "uvicorn", "--workers", "2", "--host", "127.0.0.1", "--port", "{port}",
                "--log-level", "warning", "--no-access-log", "tests.asgi:application"],
}


@pytest.fixture(params=sorted(SERVERS))
def server(request, transactional_db):
    port = free_port()
    db = connection.settings_dict
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.load_settings",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    command = [sys.executable, *(part.format(port=port) for part in SERVERS[request.param])]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_until_listening(port, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_mixed_load_has_no_server_errors_and_no_stale_tokens(server, user):
    report = run_load(server, seconds=8, threads=6, username="alice", password=PASSWORD)
    print(report.summary())
    assert report.server_errors == 0, report.failures[:3]
    assert not report.failures, report.failures[:3]
    assert report.revocations_checked > 20
    assert report.revoked_accepted == 0
