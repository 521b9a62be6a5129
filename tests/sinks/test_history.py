"""`topic_metrics_history`: rows kept per (topic, boundary, source), read back, and expired by TTL."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.history import expire_history, history_rows, write_history
from sinks.storage.reads import metrics_rows
from sinks.storage.snapshots import now_ms, write_snapshot, write_snapshot_part
from streams.metrics import Snapshot
from tests.sinks.test_snapshot_writer import row

HOUR = 3_600_000
E = 1_700_000_000_000 - 1_700_000_000_000 % 300_000


def history_boundaries(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [b for (b,) in conn.execute("SELECT DISTINCT window_end FROM topic_metrics_history ORDER BY 1")]


async def test_history_is_read_back_per_boundary_and_expires_after_its_ttl(tmp_path: Path) -> None:
    conn = await connect_writer(tmp_path / "kukuri.db")
    try:
        await apply_migrations(conn)
        boundaries = [E - 30 * HOUR, E - 2 * HOUR, E]
        snapshots = [Snapshot(b, [row("b", b, 2), row("a", b, 1)], []) for b in boundaries]
        assert await write_history(conn, snapshots, source="backfill", run_at=E) == 6
        await write_history(conn, [Snapshot(E, [row("z", E, 9)], [])], source="reconcile", run_at=E)

        read = await history_rows(conn, E - 2 * HOUR, E, source="backfill")
        assert {b: [r.topic_id for r in rows] for b, rows in read.items()} == {E - 2 * HOUR: ["a", "b"], E: ["a", "b"]}

        # A TTL of 0 keeps every row, however old.
        assert await expire_history(conn, 0, now=E + 1000 * HOUR) == 0
        # Only boundaries older than now - ttl go, of every source; the boundary at the edge stays.
        assert await expire_history(conn, 24, now=E + 6 * HOUR) == 2
        left = await history_rows(conn, 0, E, source="backfill")
        assert sorted(left) == [E - 2 * HOUR, E]
        assert await expire_history(conn, 24, now=E - 2 * HOUR + 24 * HOUR) == 0

        await write_snapshot(conn, E, [row("a", E, 1)], source="stream", ttl_hours=10**6)
        assert {b: [r.topic_id for r in rows] for b, rows in (await metrics_rows(conn, 0, E)).items()} == {E: ["a"]}
    finally:
        await conn.close()


async def test_each_snapshot_write_expires_the_history_in_its_transaction(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    try:
        await apply_migrations(conn)
        e = now_ms() - now_ms() % 300_000
        old, young = e - 10 * HOUR, e - 2 * HOUR
        await write_history(conn, [Snapshot(b, [row("a", b, 1)], []) for b in (old, young)], source="backfill", run_at=e)

        # Without a history TTL (0, also the default) the history stays.
        kept = await write_snapshot(conn, e, [row("a", e, 1)], source="stream", ttl_hours=48)
        assert kept.expired_history == 0 and history_boundaries(db) == [old, young]

        # A failed snapshot write rolls its history expiry back with it.
        broken = replace(row("b", e, 1), topic_id=None)
        with pytest.raises(sqlite3.IntegrityError):
            await write_snapshot(conn, e, [row("a", e, 1), broken], source="stream", ttl_hours=48, history_ttl_hours=5)
        assert history_boundaries(db) == [old, young]

        done = await write_snapshot(conn, e, [row("a", e, 1)], source="stream", ttl_hours=48, history_ttl_hours=5)
        assert done.expired_history == 1 and history_boundaries(db) == [young]

        # The worker's path: expiry happens with the part that completes the snapshot, not before.
        await write_history(conn, [Snapshot(old, [row("a", old, 1)], [])], source="backfill", run_at=e)
        part = await write_snapshot_part(conn, e, {0: [row("a", e, 1)]}, total_partitions=2, worker_id="w1",
                                         ttl_hours=48, history_ttl_hours=5)
        assert part.run is None and history_boundaries(db) == [old, young]
        whole = await write_snapshot_part(conn, e, {1: [row("b", e, 1)]}, total_partitions=2, worker_id="w2",
                                          ttl_hours=48, history_ttl_hours=1)
        assert whole.run is not None and whole.run.expired_history == 2 and history_boundaries(db) == []
        # One worker owning every partition writes the whole snapshot at once, expiry included.
        await write_history(conn, [Snapshot(old, [row("a", old, 1)], [])], source="backfill", run_at=e)
        alone = await write_snapshot_part(conn, e, {0: [row("a", e, 1)]}, total_partitions=1, worker_id="w1",
                                          ttl_hours=48, history_ttl_hours=5)
        assert alone.run is not None and alone.run.expired_history == 1 and history_boundaries(db) == []
    finally:
        await conn.close()
