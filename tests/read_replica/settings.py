"""The test settings with a read replica: a router sends every read to the alias ``replica``.

``replica`` is a database of its own that never receives a row (nothing replicates
to it), the worst lag a replica can have: whatever the package reads there, it
does not find.
"""

import copy

from tests.settings import *  # noqa: F403

# Their own test databases: the parent test run is still using the default one.
DATABASES["default"]["TEST"] = {"NAME": f"test_gql_authtoken_read_replica{RUN_SUFFIX}"}  # noqa: F405
DATABASES["replica"] = copy.deepcopy(DATABASES["default"])  # noqa: F405
DATABASES["replica"]["TEST"] = {"NAME": f"test_gql_authtoken_read_replica_lag{RUN_SUFFIX}"}  # noqa: F405

DATABASE_ROUTERS = ["tests.read_replica.settings.ReadReplicaRouter"]


class ReadReplicaRouter:
    """Reads of every model from ``replica``, writes to ``default`` (as read-scaling set-ups route)."""

    def db_for_read(self, model, **hints):
        return "replica"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return True
