"""Moved to `sinks.storage.snapshots`, with the rest of the SQL on our own tables.

Kept only for the modules that still import it from here (`observability.metrics`,
`bench.api_bench`, `tests.api.support`, `tests.observability`); delete it once they import
`sinks.storage.snapshots`.
"""

from sinks.storage.snapshots import RunRecord, RunSource, now_ms, write_snapshot, write_snapshot_part

__all__ = ["RunRecord", "RunSource", "now_ms", "write_snapshot", "write_snapshot_part"]
