"""Numbered migrations: each applied once, also when several workers start at the same moment."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sinks.database import connect_writer
from sinks.migrate import available_migrations, migrate
from sinks.storage.sql import scalar


async def test_concurrent_migrations_apply_each_version_once(tmp_path: Path) -> None:
    db = tmp_path / "kukuri.db"
    results = await asyncio.gather(*(migrate(db) for _ in range(4)))
    versions = [m.version for applied in results for m in applied]
    assert sorted(versions) == [m.version for m in available_migrations()]  # each exactly once
    with sqlite3.connect(db) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == sorted(versions)
    assert await migrate(db) == []


async def test_kukuri_topic_metrics_table_keeps_its_rows(tmp_path: Path) -> None:
    """An app database whose topic_metrics predates kukuri-trending gets the new columns, rows intact."""
    db = tmp_path / "kukuri.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE topic_metrics (topic_id TEXT NOT NULL, window_start INTEGER NOT NULL, window_end INTEGER NOT NULL,"
            " posts_24h INTEGER NOT NULL DEFAULT 0, posts_6h INTEGER NOT NULL DEFAULT 0, unique_authors INTEGER NOT NULL"
            " DEFAULT 0, boosts INTEGER NOT NULL DEFAULT 0, replies INTEGER NOT NULL DEFAULT 0, bookmarks INTEGER NOT NULL"
            " DEFAULT 0, participant_delta INTEGER NOT NULL DEFAULT 0, score_24h REAL NOT NULL DEFAULT 0, score_6h REAL"
            " NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL, PRIMARY KEY (topic_id, window_start))"
        )
        conn.execute("INSERT INTO topic_metrics (topic_id, window_start, window_end, posts_24h, updated_at)"
                      " VALUES ('rust', 0, 86400000, 7, 1)")
    await migrate(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT posts_24h, participants_24h FROM topic_metrics").fetchall() == [(7, 0)]


async def test_writers_opening_a_new_database_together_all_get_it(tmp_path: Path) -> None:
    """Switching a new file to WAL from several connections at once makes SQLite refuse one of them
    at once (it would deadlock), without waiting on the busy timeout; every writer must still open."""
    for attempt in range(100):
        db = tmp_path / f"new-{attempt}.db"
        conns = await asyncio.gather(*(connect_writer(db) for _ in range(8)))
        for conn in conns:
            assert await scalar(conn, "PRAGMA journal_mode") == "wal"
            await conn.close()
