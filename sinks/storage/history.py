"""`topic_metrics_history`: snapshots kept per (topic, boundary, source) for backfills and comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import aiosqlite

from sinks.storage.snapshots import RunSource
from sinks.storage.sql import transaction
from streams.metrics import TOPIC_METRICS_COLUMNS, Snapshot

_INSERT: Final = (
    f"INSERT OR REPLACE INTO topic_metrics_history ({', '.join(TOPIC_METRICS_COLUMNS)}, source, run_at)"
    f" VALUES ({', '.join('?' for _ in TOPIC_METRICS_COLUMNS)}, ?, ?)"
)


async def write_history(
    conn: aiosqlite.Connection, snapshots: Sequence[Snapshot], *, source: RunSource, run_at: int
) -> int:
    """Replace this source's history for the snapshots' boundaries, in one transaction; returns rows.

    Replace, not add: a topic that has no row in a re-run (its facts were retracted since) must
    not keep the row of the earlier run.
    """
    rows = [(*row.values(), source, run_at) for s in snapshots for row in s.rows]
    async with transaction(conn):
        await conn.executemany(
            "DELETE FROM topic_metrics_history WHERE window_end = ? AND source = ?",
            [(s.boundary, source) for s in snapshots],
        )
        await conn.executemany(_INSERT, rows)
    return len(rows)
