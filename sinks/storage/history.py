"""`topic_metrics_history`: snapshots kept per (topic, boundary, source) for backfills and comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import aiosqlite

from sinks.storage.sql import rowcount, transaction
from streams.metrics import TOPIC_METRICS_COLUMNS, Snapshot, TopicMetrics
from streams.windows import HOUR_MS

if TYPE_CHECKING:
    # Only a type: `snapshots` calls `delete_expired_history` inside its write transaction.
    from sinks.storage.snapshots import RunSource

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


async def delete_expired_history(conn: aiosqlite.Connection, ttl_hours: int, *, now: int) -> int:
    """Delete history rows whose boundary is older than `now - ttl_hours`, inside the caller's
    transaction; returns how many went. A TTL of 0 keeps every row.

    One indexed range delete (`idx_topic_metrics_history_window_end`), every source together.
    """
    if ttl_hours == 0:
        return 0
    return await rowcount(
        conn, "DELETE FROM topic_metrics_history WHERE window_end < ?", (now - ttl_hours * HOUR_MS,)
    )


async def expire_history(conn: aiosqlite.Connection, ttl_hours: int, *, now: int) -> int:
    """`delete_expired_history` in a transaction of its own (after a backfill's history writes)."""
    async with transaction(conn):
        return await delete_expired_history(conn, ttl_hours, now=now)


async def history_rows(
    conn: aiosqlite.Connection, first: int, last: int, *, source: RunSource
) -> dict[int, list[TopicMetrics]]:
    """This source's history rows for boundaries in [first, last], by boundary, each sorted by topic."""
    found: dict[int, list[TopicMetrics]] = {}
    async with conn.execute(
        f"SELECT {', '.join(TOPIC_METRICS_COLUMNS)} FROM topic_metrics_history"
        " WHERE window_end BETWEEN ? AND ? AND source = ? ORDER BY window_end, topic_id",
        (first, last, source),
    ) as cursor:
        for values in await cursor.fetchall():
            row = TopicMetrics(*values)
            found.setdefault(row.window_end, []).append(row)
    return found
