"""One side of one project, in its own process: ``python -m tests.compat.run PROJECT SIDE OUT``.

``legacy``: migrate, create the accounts, log in once through the real library
(the token handed over), copy the database to ``GQL_AUTHTOKEN_COMPAT_SNAPSHOT``,
then run the flow. ``migrated`` (on that copy): migrate, ``import_tokens``,
run the flow from the handed-over token (read from ``GQL_AUTHTOKEN_COMPAT_HANDOVER``,
the legacy side's OUT). OUT receives ``{"steps": ..., "handover": ...}`` as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any


def admin_connection() -> Any:
    """A connection to the PostgreSQL server of ``DATABASE_URL``, outside any database we drop."""
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    return psycopg.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432,
                           user=url.username or "postgres", password=url.password or "",
                           dbname="postgres", autocommit=True)


def recreate_database(name: str) -> None:
    with admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def snapshot_database(target: str) -> None:
    """Copy the current database (closed first) to ``target``, as it is now."""
    from django.db import connection, connections

    source = connection.settings_dict["NAME"]
    connections.close_all()
    if connection.vendor == "sqlite":
        shutil.copyfile(source, target)
    else:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def forget_cache_keys() -> None:
    """Delete this run's keys from a shared Redis (another run may use the same db).

    tests/conftest.py's ``clear_cache`` does the same, but importing it needs
    gql_authtoken installed, which the legacy side's project is not."""
    from django.core.cache import cache

    if hasattr(cache, "_cache") and hasattr(cache._cache, "get_client"):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


def main(project_name: str, side: str, out: str) -> None:
    os.environ.update(GQL_AUTHTOKEN_COMPAT_PROJECT=project_name, GQL_AUTHTOKEN_COMPAT_SIDE=side,
                      DJANGO_SETTINGS_MODULE="tests.compat.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from .harness import Flow
    from .libraries import PROJECTS

    project = PROJECTS[project_name]
    call_command("migrate", run_syncdb=True, verbosity=0)  # runs the system checks first
    try:
        if side == "legacy":
            project.setup()
            handover = project.handover_login(Flow(project, side))
            snapshot_database(os.environ["GQL_AUTHTOKEN_COMPAT_SNAPSHOT"])
        else:
            with open(os.environ["GQL_AUTHTOKEN_COMPAT_HANDOVER"]) as legacy:
                handover = json.load(legacy)["handover"]
            call_command("import_tokens", "--from", project.source, verbosity=0)
            project.after_import()
        flow = Flow(project, side, handover)
        project.flow(flow)
    finally:
        forget_cache_keys()
    with open(out, "w") as result:
        json.dump({"steps": flow.steps, "handover": handover if side == "legacy" else None}, result)


if __name__ == "__main__":
    main(*sys.argv[1:])
