"""The snapshot writer: whole snapshots, parts from several workers, rewrites and expiry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import now_ms, write_snapshot, write_snapshot_part
from streams.metrics import TopicMetrics


def row(topic: str, boundary: int, posts: int) -> TopicMetrics:
    return TopicMetrics(topic, boundary - 86_400_000, boundary, posts, posts, 1, 0, 0, 0, 1, posts * 0.6 + 0.3,
                        posts * 0.6 + 0.3, 0, 1, 0, 0, 0, 1)


def stored(db: Path, boundary: int) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT topic_id, posts_24h FROM topic_metrics WHERE window_end = ?", (boundary,)))


async def test_parts_promote_once_complete_and_again_when_a_part_is_rewritten(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    await apply_migrations(conn)
    e = now_ms() - now_ms() % 300_000
    first = await write_snapshot_part(conn, e, {0: [row("a", e, 1)]}, total_partitions=2, worker_id="w1", ttl_hours=48)
    assert first is None and stored(db, e) == {}  # readers never see half a snapshot
    done = await write_snapshot_part(conn, e, {1: [row("b", e, 2)]}, total_partitions=2, worker_id="w2", ttl_hours=48)
    assert done is not None and done.topics_upserted == 2 and stored(db, e) == {"a": 1, "b": 2}
    # A later part for the same boundary (w1 answering a materialize request) promotes again.
    again = await write_snapshot_part(conn, e, {0: [row("a", e, 5)]}, total_partitions=2, worker_id="w1",
                                      ttl_hours=48, request_id="r1")
    assert again is not None and stored(db, e) == {"a": 5, "b": 2}
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT partition FROM materialize_acks WHERE request_id = 'r1'").fetchall() == [(0,)]
    await conn.close()


async def test_whole_snapshot_replaces_rows_and_expires_old_ones(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    await apply_migrations(conn)
    e = now_ms() - now_ms() % 300_000
    old = e - 49 * 3_600_000
    await write_snapshot(conn, old, [row("x", old, 1)], source="backfill", ttl_hours=100)
    await write_snapshot(conn, e, [row("a", e, 1), row("b", e, 1)], source="stream", ttl_hours=48)
    assert stored(db, old) == {}  # older than the TTL: expired by the next write
    record = await write_snapshot(conn, e, [row("a", e, 3)], source="reconcile", ttl_hours=48)
    assert stored(db, e) == {"a": 3} and record.topics_upserted == 1  # same E again: exactly the new rows
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT source FROM trending_runs WHERE window_end = ?", (e,)).fetchall() == [("reconcile",)]
    await conn.close()
