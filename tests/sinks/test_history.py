"""`topic_metrics_history`: rows kept per (topic, boundary, source), read back, and expired by TTL."""

from __future__ import annotations

from pathlib import Path

from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.history import expire_history, history_rows, write_history
from sinks.storage.reads import metrics_rows
from sinks.storage.snapshots import write_snapshot
from streams.metrics import Snapshot
from tests.sinks.test_snapshot_writer import row

HOUR = 3_600_000
E = 1_700_000_000_000 - 1_700_000_000_000 % 300_000


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

        # Only boundaries older than now - ttl go, of every source; the boundary at the edge stays.
        assert await expire_history(conn, 24, now=E + 6 * HOUR) == 2
        left = await history_rows(conn, 0, E, source="backfill")
        assert sorted(left) == [E - 2 * HOUR, E]
        assert await expire_history(conn, 24, now=E - 2 * HOUR + 24 * HOUR) == 0

        await write_snapshot(conn, E, [row("a", E, 1)], source="stream", ttl_hours=10**6)
        assert {b: [r.topic_id for r in rows] for b, rows in (await metrics_rows(conn, 0, E)).items()} == {E: ["a"]}
    finally:
        await conn.close()
