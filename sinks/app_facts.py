"""Moved to `appdb.loader` (a reader of the app database, not a sink).

Kept only so `agents.worker_app` and `agents.reconcile_service` keep importing from here until
they import `appdb.loader` themselves; delete this module then.
"""

from appdb.loader import load_partition_from_app_db, partition_of

__all__ = ["load_partition_from_app_db", "partition_of"]
