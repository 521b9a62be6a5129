"""The table check through the real snapshot writer: full TTLs of snapshots, working and broken expiry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from observability.alerts import check_table_size
from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import now_ms, write_snapshot
from sinks.storage.table_health import topic_metrics_health
from streams.metrics import TopicMetrics

pytestmark = pytest.mark.integration

INTERVAL = 300_000
TTL_HOURS = 1  # 13 boundaries: a full TTL of snapshots stays small


def row(topic: str, boundary: int) -> TopicMetrics:
    return TopicMetrics(topic, boundary - 86_400_000, boundary, 1, 1, 1, 0, 0, 0, 1, 0.9, 0.9, 0, 1, 0, 0, 0, 1)


async def write_history(conn: aiosqlite.Connection, newest: int, snapshots: int, *, ttl_hours: int) -> None:
    """One snapshot per interval up to `newest`, oldest first, as a running worker writes them;
    the topic count varies from snapshot to snapshot like traffic does."""
    for age in range(snapshots - 1, -1, -1):
        boundary = newest - age * INTERVAL
        topics = 20 + (age * 7) % 15
        await write_snapshot(conn, boundary, [row(f"t{i}", boundary) for i in range(topics)], source="stream",
                             ttl_hours=ttl_hours)


@pytest.fixture
async def conn(tmp_path: Path) -> aiosqlite.Connection:
    conn = await connect_writer(tmp_path / "kukuri.db")
    await apply_migrations(conn)
    yield conn
    await conn.close()


def boundary_now() -> int:
    return now_ms() - now_ms() % INTERVAL


async def test_a_full_ttl_with_working_expiry_is_explained(conn: aiosqlite.Connection) -> None:
    e = boundary_now()
    await write_history(conn, e, 3 * 12 + 1, ttl_hours=TTL_HOURS)  # three TTLs of snapshots
    health = await topic_metrics_health(conn, boundary=e, ttl_hours=TTL_HOURS)
    assert health.expired_rows == 0
    assert health.snapshots in (12, 13)  # the snapshot at E - 1h goes once the clock passes E
    assert 0 < health.rows <= health.expected_rows
    assert check_table_size(health, margin=0.0, ttl_hours=TTL_HOURS) is False


async def test_expiry_that_does_not_run_is_found(conn: aiosqlite.Connection) -> None:
    e = boundary_now()
    # The writer keeps everything (expiry switched off by a TTL far longer than the configured one).
    await write_history(conn, e, 3 * 12 + 1, ttl_hours=10_000)
    health = await topic_metrics_health(conn, boundary=e, ttl_hours=TTL_HOURS)
    assert health.expired_rows > 0
    assert health.rows > health.expected_rows * 1.25
    assert check_table_size(health, margin=0.25, ttl_hours=TTL_HOURS) is True


async def test_expiry_that_deletes_nothing_is_found(conn: aiosqlite.Connection, tmp_path: Path) -> None:
    e = boundary_now()
    # Something in the database swallows the expiry's deletes (a trigger of the app's, say).
    with sqlite3.connect(tmp_path / "kukuri.db") as other:
        other.execute("CREATE TRIGGER keep_topic_metrics BEFORE DELETE ON topic_metrics"
                      " WHEN old.window_end < strftime('%s', 'now') * 1000 - 3600000 BEGIN SELECT RAISE(IGNORE); END")
    await write_history(conn, e, 3 * 12 + 1, ttl_hours=TTL_HOURS)
    health = await topic_metrics_health(conn, boundary=e, ttl_hours=TTL_HOURS)
    assert health.expired_rows > 0
    assert health.snapshots <= 13  # trending_runs was expired as usual: the rows are unexplained
    assert check_table_size(health, margin=0.25, ttl_hours=TTL_HOURS) is True
