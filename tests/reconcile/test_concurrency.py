"""The app keeps writing while reconcile and backfill run: neither side sees `database is locked`."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.reconcile_bench import generate_events, shape_for
from reconcile.backfill import backfill
from reconcile.gaps import fill_gaps
from reconcile.runner import reconcile_boundary
from tests.fixtures.app_db import HOUR, build_app_db, recent_boundary, settings_for

pytestmark = pytest.mark.integration


@dataclass
class AppWriter:
    """Stands in for kukuri: one small write transaction after another, every `pause_s`.

    Busier than any real client (hundreds of commits a second). Without any pause at all the lock
    is released and re-taken within microseconds and no other writer ever gets it: SQLite's
    busy handler polls, it does not queue, so that would test starvation, not locking.
    """

    path: Path
    busy_timeout_s: float
    pause_s: float = 0.002
    written: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            while not self.stop.is_set():
                event_id = f"live-{self.written}"
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute(
                        "INSERT INTO events (event_id, public_key, content, kind, tags, created_at, deleted)"
                        " VALUES (?, 'writer', '', 1, '[]', ?, 0)", (event_id, int(time.time() * 1000) - HOUR),
                    )
                    conn.execute("INSERT INTO event_topics (event_id, topic_id) VALUES (?, 'topic-00001')", (event_id,))
                    conn.execute("COMMIT")
                    self.written += 1
                    time.sleep(self.pause_s)
                except sqlite3.Error as exc:
                    self.errors.append(str(exc))
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
        finally:
            conn.close()


@contextmanager
def app_writing(path: Path, busy_timeout_s: float, pause_s: float) -> Iterator[AppWriter]:
    writer = AppWriter(path, busy_timeout_s, pause_s)
    thread = threading.Thread(target=writer.run, name="app-writer")
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(timeout=30)


async def _app_db(tmp_path: Path) -> Path:
    until = recent_boundary(0)
    events = generate_events(shape_for(20_000, span_hours=72), seed=11, end=until)
    return await build_app_db(tmp_path / "app.db", events)


async def test_reads_never_block_a_writer_that_does_not_wait(tmp_path: Path) -> None:
    """A writer with no busy timeout and no pause keeps committing through every read we do."""
    db = await _app_db(tmp_path)
    settings = settings_for(db)
    with app_writing(db, busy_timeout_s=0, pause_s=0) as writer:
        time.sleep(0.05)
        before = writer.written
        for steps_back in range(3):
            await reconcile_boundary(settings, recent_boundary(steps_back), dry_run=True)
        await fill_gaps(settings, dry_run=True)
        during = writer.written - before
    assert writer.errors == []
    assert during > 0


async def test_repairs_and_backfill_run_beside_a_writing_app(tmp_path: Path) -> None:
    """Our writes are short transactions: the app's writer waits at most briefly, never fails."""
    db = await _app_db(tmp_path)
    settings = settings_for(db)
    with app_writing(db, busy_timeout_s=5, pause_s=0.002) as writer:
        time.sleep(0.05)
        before = writer.written
        await reconcile_boundary(settings, recent_boundary())
        await fill_gaps(settings)
        await backfill(settings, minutes=240, apply=True)
        during = writer.written - before
    assert writer.errors == []
    assert during > 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM trending_runs").fetchone()[0] >= 48 * 12 - 1
        assert conn.execute("SELECT COUNT(*) FROM events WHERE public_key = 'writer'").fetchone()[0] == writer.written
