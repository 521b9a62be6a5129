"""The app database failing under a running `kukuri-trending worker`, through the real parts: the
file system fills up, the file is deleted or replaced, the file becomes read-only. In each case
no partial snapshot may appear, no event may be lost (the state lives in the worker, the database
only receives snapshots), the failure is logged and alerted through the webhook, and once the
fault clears the worker writes the next snapshot by itself, without a restart."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.events import Event
from tests.agents.test_crash_consistency import known_stream
from tests.agents.test_worker_integration import materialize, now_boundary
from tests.fixtures.fault_env import configure, log_events, prepare, produce, request_snapshot, wait_for_owners
from tests.fixtures.filesystems import fill, set_immutable, tmpfs
from tests.fixtures.http_webhook import ThreadedReceiver
from tests.fixtures.snapshot_watch import SnapshotWatcher, StreamPrefixes
from tests.fixtures.trending_env import TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration

FAILED = "trending_metrics_job.failed"
STILL_RUNNING_SECONDS = 3.0


@pytest.fixture
def hook() -> Iterator[ThreadedReceiver]:
    with ThreadedReceiver() as receiver:
        yield receiver


@pytest.fixture
def watchers() -> Iterator[list[SnapshotWatcher]]:
    """Reader threads started by the test, stopped even when it fails half-way."""
    started: list[SnapshotWatcher] = []
    yield started
    for watcher in started:
        watcher.stop()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "small-fs", "2m") as where:
        yield where


@dataclass
class Scenario:
    """A worker that has written one good snapshot of `before`; `during` is sent under the fault."""

    env: TrendingEnv
    hook: ThreadedReceiver
    worker: subprocess.Popen[bytes]
    boundary: int
    before: list[Event]
    during: list[Event]
    watcher: SnapshotWatcher

    def under_fault(self) -> float:
        """Send the rest of the stream and ask for a snapshot; it must fail, be logged and alerted,
        and the worker must keep running. Returns the seconds until the alert arrived."""
        started = time.monotonic()
        failures = len(log_events(self.env, FAILED))
        produce(self.env, self.during)
        request_snapshot(self.env, self.boundary)
        self.env.wait_until(lambda: len(log_events(self.env, FAILED)) > failures, 30, "the snapshot to fail")
        self.hook.wait_for("failing")
        alerted = time.monotonic() - started
        time.sleep(STILL_RUNNING_SECONDS)  # a worker that gives up exits within a second of the failure
        assert self.worker.poll() is None, self.env.logs()[-3000:]
        return alerted

    def recovered(self) -> float:
        """After the fault cleared: the next materialize succeeds without a restart, with every
        event in it. Returns its seconds."""
        started = time.monotonic()
        result = self.env.cli("materialize", "--at", str(self.boundary), "--timeout", "60")
        assert result.returncode == 0, result.stderr + self.env.logs()[-3000:]
        took = time.monotonic() - started
        events = self.before + self.during
        assert self.env.snapshot(self.boundary) == expected_rows(events, self.boundary)
        self.hook.wait_for("recovered")
        assert self.worker.poll() is None
        self.watcher.stop()
        assert self.watcher.reads > 10
        assert StreamPrefixes(events).judge_all(self.watcher.observations) == []
        with sqlite3.connect(self.env.db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        failed = log_events(self.env, FAILED)
        assert failed and all(line["error"] for line in failed)
        return took


def start(env: TrendingEnv, hook: ThreadedReceiver, db: Path, seed: int, watchers: list[SnapshotWatcher]) -> Scenario:
    env.db = db
    configure(
        env,
        database={"path": str(db), "busy_timeout_ms": 500},
        alerts={"webhook_url": hook.url, "consecutive_failures": 1},
        backoff={"initial_retry_seconds": 0.2, "max_retry_seconds": 1.0},
    )
    prepare(env)
    worker = env.start_worker()
    wait_for_owners(env, [worker])
    boundary = now_boundary()
    events = known_stream(boundary, seed, facts=600, topics=25)
    before, during = events[:400], events[400:]
    produce(env, before)
    materialize(env, boundary)
    assert env.snapshot(boundary) == expected_rows(before, boundary)
    watcher = SnapshotWatcher(db)
    watcher.start()
    watchers.append(watcher)
    return Scenario(env, hook, worker, boundary, before, during, watcher)


def test_a_full_file_system_fails_the_snapshot_until_space_is_freed(
    trending_env: TrendingEnv, hook: ThreadedReceiver, small_fs: Path,
    watchers: list[SnapshotWatcher],
) -> None:
    scenario = start(trending_env, hook, small_fs / "kukuri.db", seed=41, watchers=watchers)
    filler = fill(small_fs)
    alerted = scenario.under_fault()
    errors = [line["error"] for line in log_events(trending_env, FAILED)]
    assert any("full" in e for e in errors), errors
    filler.unlink()
    recovery = scenario.recovered()
    print(f"disk full: alerted after {alerted:.1f} s; recovered {recovery:.1f} s after space was freed")


def database_files(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def backup(db: Path, to: Path) -> Path:
    with sqlite3.connect(db) as source, sqlite3.connect(to) as copy:
        source.backup(copy)
    return to


@pytest.mark.parametrize("fault", ["deleted", "replaced_by_a_non_database"])
def test_a_deleted_or_replaced_database_file_is_noticed_and_the_restored_one_is_written(
    trending_env: TrendingEnv, hook: ThreadedReceiver, tmp_path: Path, fault: str,
    watchers: list[SnapshotWatcher],
) -> None:
    db = tmp_path / "db" / "kukuri.db"
    scenario = start(trending_env, hook, db, seed=42, watchers=watchers)
    saved = backup(db, tmp_path / "backup.db")  # what an operator restores afterwards
    for path in database_files(db):
        path.unlink(missing_ok=True)
    if fault == "replaced_by_a_non_database":
        replacement = tmp_path / "notes.txt"
        replacement.write_text("not a database\n" * 100)
        os.replace(replacement, db)
    alerted = scenario.under_fault()
    for path in database_files(db):
        path.unlink(missing_ok=True)
    shutil.copyfile(saved, db)
    recovery = scenario.recovered()
    print(f"database {fault}: alerted after {alerted:.1f} s; recovered {recovery:.1f} s after the restore")


def test_a_read_only_database_file_fails_the_snapshot_until_writable_again(
    trending_env: TrendingEnv, hook: ThreadedReceiver, tmp_path: Path,
    watchers: list[SnapshotWatcher],
) -> None:
    db = tmp_path / "db" / "kukuri.db"
    scenario = start(trending_env, hook, db, seed=43, watchers=watchers)
    locked = database_files(db)[:2]  # never the -shm file: SQLite maps it, a write would be SIGBUS
    set_immutable(locked, True)
    try:
        alerted = scenario.under_fault()
    finally:
        set_immutable(locked, False)
    recovery = scenario.recovered()
    print(f"read-only database: alerted after {alerted:.1f} s; recovered {recovery:.1f} s after it was writable")
