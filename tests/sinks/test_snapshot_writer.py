"""The snapshot writer: whole snapshots, parts from several workers, rewrites and expiry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import now_ms, write_snapshot, write_snapshot_part
from streams.metrics import PartPosition, TopicMetrics


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
    assert first.run is None and stored(db, e) == {}  # readers never see half a snapshot
    done = await write_snapshot_part(conn, e, {1: [row("b", e, 2)]}, total_partitions=2, worker_id="w2", ttl_hours=48)
    assert done.run is not None and done.run.topics_upserted == 2 and stored(db, e) == {"a": 1, "b": 2}
    # A later part for the same boundary (w1 answering a materialize request) promotes again.
    again = await write_snapshot_part(conn, e, {0: [row("a", e, 5)]}, total_partitions=2, worker_id="w1",
                                      ttl_hours=48, request_id="r1")
    assert again.run is not None and stored(db, e) == {"a": 5, "b": 2}
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


async def test_a_part_read_less_far_into_its_partition_never_replaces_the_stored_one(tmp_path: Path) -> None:
    """A worker replaying a partition it was just given, or a write delayed past a rebalance."""
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    await apply_migrations(conn)
    e = now_ms() - now_ms() % 300_000
    at = PartPosition
    await write_snapshot_part(conn, e, {0: [row("a", e, 5)]}, total_partitions=2, worker_id="w1", ttl_hours=48,
                              positions={0: at(10)})
    await write_snapshot_part(conn, e, {1: [row("b", e, 2)]}, total_partitions=2, worker_id="w2", ttl_hours=48,
                              positions={1: at(7)})
    assert stored(db, e) == {"a": 5, "b": 2}

    behind = await write_snapshot_part(conn, e, {0: [row("a", e, 3)], 1: [row("b", e, 2)]}, total_partitions=2,
                                       worker_id="w3", ttl_hours=48, request_id="r1", positions={0: at(4), 1: at(7)})
    # Partition 0 is left out; partition 1 (same position) is rewritten and the set promoted again.
    assert behind.stale == (0,) and behind.run is not None and stored(db, e) == {"a": 5, "b": 2}
    with sqlite3.connect(db) as check:
        # Acknowledged for both: what is stored covers everything before the request's barrier.
        assert check.execute("SELECT partition FROM materialize_acks WHERE request_id = 'r1' ORDER BY 1").fetchall() \
            == [(0,), (1,)]

    ahead = await write_snapshot_part(conn, e, {0: [row("a", e, 6)]}, total_partitions=2, worker_id="w3",
                                      ttl_hours=48, positions={0: at(12)})
    assert ahead.stale == () and ahead.run is not None and stored(db, e) == {"a": 6, "b": 2}
    await conn.close()


async def test_a_whole_write_with_a_stale_partition_stages_only_the_fresh_ones(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    await apply_migrations(conn)
    e = now_ms() - now_ms() % 300_000
    await write_snapshot_part(conn, e, {0: [row("a", e, 5)]}, total_partitions=2, worker_id="w1", ttl_hours=48,
                              positions={0: PartPosition(10)})
    await write_snapshot_part(conn, e, {1: [row("b", e, 2)]}, total_partitions=2, worker_id="w2", ttl_hours=48,
                              positions={1: PartPosition(10)})
    # Now one worker owns both, but partition 0's state is still replaying.
    whole = await write_snapshot_part(conn, e, {0: [row("a", e, 1)], 1: [row("b", e, 3)]}, total_partitions=2,
                                      worker_id="w3", ttl_hours=48, positions={0: PartPosition(4), 1: PartPosition(12)})
    assert whole.stale == (0,) and whole.run is not None
    assert stored(db, e) == {"a": 5, "b": 3}  # partition 0 from w1's staged part, partition 1 from w3

    # A whole snapshot keeps no staged parts: a stale writer after it changes nothing.
    await write_snapshot_part(conn, e, {0: [row("a", e, 7)], 1: [row("b", e, 4)]}, total_partitions=2,
                              worker_id="w3", ttl_hours=48, positions={0: PartPosition(20), 1: PartPosition(20)})
    late = await write_snapshot_part(conn, e, {0: [row("a", e, 6)], 1: [row("b", e, 9)]}, total_partitions=2,
                                     worker_id="w1", ttl_hours=48, positions={0: PartPosition(15), 1: PartPosition(25)})
    assert late.stale == (0,) and late.run is None and stored(db, e) == {"a": 7, "b": 4}
    await conn.close()


async def test_a_partition_rebuilt_after_its_log_was_lost_starts_a_new_line_of_positions(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    conn = await connect_writer(db)
    await apply_migrations(conn)
    e = now_ms() - now_ms() % 300_000
    await write_snapshot_part(conn, e, {0: [row("a", e, 5)]}, total_partitions=1, worker_id="w1", ttl_hours=48,
                              positions={0: PartPosition(100)})
    # The broker restarted empty: offsets start again at 0 in the new log.
    rebuilt = await write_snapshot_part(conn, e, {0: [row("a", e, 6)]}, total_partitions=1, worker_id="w1",
                                        ttl_hours=48, positions={0: PartPosition(3, lineage_since=now_ms())})
    assert rebuilt.stale == () and stored(db, e) == {"a": 6}
    # Another worker replaying the new log compares with the new line only.
    behind = await write_snapshot_part(conn, e, {0: [row("a", e, 4)]}, total_partitions=1, worker_id="w2",
                                       ttl_hours=48, positions={0: PartPosition(2)})
    assert behind.stale == (0,) and stored(db, e) == {"a": 6}
    ahead = await write_snapshot_part(conn, e, {0: [row("a", e, 8)]}, total_partitions=1, worker_id="w2",
                                      ttl_hours=48, positions={0: PartPosition(5)})
    assert ahead.stale == () and stored(db, e) == {"a": 8}
    await conn.close()
