"""Read what kukuri-trending has stored for a boundary: rows, extra-window rows, and its run.

Reads take a read-only connection (`sinks.database.connect_reader`) like every other read of the
app database. A database that was never migrated simply has nothing stored, which `reconcile
--dry-run` reports as every row missing rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aiosqlite

from streams.metrics import TOPIC_METRICS_COLUMNS, WINDOW_METRICS_COLUMNS, TopicMetrics, WindowMetrics

_OURS = ("topic_metrics", "topic_window_metrics", "trending_runs")


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    rows: list[TopicMetrics]
    window_rows: list[WindowMetrics]
    run_source: str | None  # `trending_runs.source` for the boundary, None when no run is recorded


async def _tables(conn: aiosqlite.Connection) -> set[str]:
    marks = ", ".join("?" for _ in _OURS)
    async with conn.execute(f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({marks})", _OURS) as c:
        return {name for (name,) in await c.fetchall()}


async def read_stored(conn: aiosqlite.Connection, boundary: int) -> StoredSnapshot:
    """Everything stored for boundary E, read in one read transaction so the parts agree."""
    await conn.execute("BEGIN")
    try:
        tables = await _tables(conn)
        rows: list[TopicMetrics] = []
        window_rows: list[WindowMetrics] = []
        source = None
        if "topic_metrics" in tables:
            async with conn.execute(
                f"SELECT {', '.join(TOPIC_METRICS_COLUMNS)} FROM topic_metrics WHERE window_end = ?"
                " ORDER BY topic_id, window_start", (boundary,),
            ) as cursor:
                rows = [TopicMetrics(*r) for r in await cursor.fetchall()]
        if "topic_window_metrics" in tables:
            async with conn.execute(
                f"SELECT {', '.join(WINDOW_METRICS_COLUMNS)} FROM topic_window_metrics WHERE window_end = ?"
                " ORDER BY window, topic_id", (boundary,),
            ) as cursor:
                window_rows = [WindowMetrics(*r) for r in await cursor.fetchall()]
        if "trending_runs" in tables:
            async with conn.execute("SELECT source FROM trending_runs WHERE window_end = ?", (boundary,)) as cursor:
                found = await cursor.fetchone()
                source = None if found is None else str(found[0])
    finally:
        await conn.execute("COMMIT")
    return StoredSnapshot(rows, window_rows, source)


async def boundaries_without_run(conn: aiosqlite.Connection, boundaries: Iterable[int]) -> list[int]:
    """The given boundaries (ascending) that have no `trending_runs` row."""
    wanted = sorted(set(boundaries))
    if not wanted or "trending_runs" not in await _tables(conn):
        return wanted
    async with conn.execute(
        "SELECT window_end FROM trending_runs WHERE window_end BETWEEN ? AND ?", (wanted[0], wanted[-1])
    ) as cursor:
        done = {end for (end,) in await cursor.fetchall()}
    return [b for b in wanted if b not in done]
