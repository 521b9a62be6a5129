"""The failure streak and the open incident live in the app database: restarts and several workers
share them, so a crash loop alerts and an incident is announced and closed once."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from config.settings import AlertSettings
from observability.alerts import AlertNotifier
from sinks.migrate import migrate
from sinks.storage.job_failures import FailureStreak, JobFailures
from tests.fixtures.webhook import Receiver
from tests.observability.test_alerts import logged

pytestmark = pytest.mark.integration

MIN = 60_000
T0 = 1_731_229_200_000
LOCKED = sqlite3.OperationalError("database is locked")
NO_TABLE = sqlite3.OperationalError("no such table: topic_metrics")


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "kukuri.db"
    await migrate(path)
    return path


async def start(db: Path, receiver: Receiver, instance: str = "worker-1", *, now_ms: int = T0) -> AlertNotifier:
    """What a (re)started worker does: open the ledger and build its notifier."""
    ledger = await JobFailures.open(db, busy_timeout_ms=1000)
    settings = AlertSettings(webhook_url=receiver.url, consecutive_failures=2)
    return AlertNotifier.from_settings(settings, now_ms=now_ms, instance=instance, last_success_ms=T0, ledger=ledger)


def kinds(receiver: Receiver) -> list[str]:
    return [p["blocks"][1]["elements"][0]["text"].split()[1] for p in receiver.payloads]


async def test_a_worker_restarted_after_each_failure_still_alerts(db: Path, receiver: Receiver) -> None:
    first = await start(db, receiver)
    assert await first.run_failed(T0 + 5 * MIN, LOCKED) is None
    await first.close()  # the worker exits; its supervisor starts a new one

    second = await start(db, receiver)
    alert = await second.run_failed(T0 + 10 * MIN, LOCKED)
    assert alert is not None and alert.kind == "failing" and alert.consecutive_failures == 2
    await second.close()

    third = await start(db, receiver)
    assert await third.run_failed(T0 + 15 * MIN, LOCKED) is None  # same incident
    assert await third.run_succeeded(T0 + 20 * MIN) is not None
    assert await third.run_succeeded(T0 + 25 * MIN) is None
    await third.close()
    assert kinds(receiver) == ["failing", "recovered"]
    assert "failed 2 times in a row" in receiver.payloads[0]["text"]


async def test_a_crash_loop_of_fatal_errors_alerts_once(db: Path, receiver: Receiver) -> None:
    for restart in range(4):
        notifier = await start(db, receiver)
        alert = await notifier.run_failed(T0 + restart * MIN, NO_TABLE, fatal=True)
        assert (alert is not None) == (restart == 0)
        await notifier.close()
    stored = await JobFailures.open(db, busy_timeout_ms=1000)
    assert await stored.read() == FailureStreak(4, T0, "sqlite3.OperationalError: no such table: topic_metrics")
    await stored.close()

    fixed = await start(db, receiver)
    assert await fixed.run_succeeded(T0 + 10 * MIN) is not None
    await fixed.close()
    assert kinds(receiver) == ["fatal", "recovered"]
    assert "the worker is stopping" in receiver.payloads[0]["text"]
    assert "the incident lasted 10 min" in receiver.payloads[1]["text"]


async def test_two_workers_announce_and_close_one_incident(db: Path, receiver: Receiver) -> None:
    one, two = await start(db, receiver, "worker-1"), await start(db, receiver, "worker-2")
    try:
        assert await one.tick(T0 + 11 * MIN) is not None
        assert await two.tick(T0 + 11 * MIN) is None  # worker-1 already announced it
        assert await two.run_failed(T0 + 12 * MIN, LOCKED) is None
        assert await two.run_succeeded(T0 + 13 * MIN) is not None  # the worker that completed the snapshot
        assert await one.run_succeeded(T0 + 18 * MIN) is None
    finally:
        await one.close()
        await two.close()
    assert kinds(receiver) == ["stale", "recovered"]


async def test_without_the_table_alerts_fall_back_to_the_process(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # A database the migrations have not reached: decisions are made in memory, nothing is lost.
    notifier = await start(tmp_path / "unmigrated.db", receiver)
    try:
        assert await notifier.run_failed(T0 + 1, LOCKED) is None
        assert await notifier.run_failed(T0 + 2, LOCKED) is not None
        assert await notifier.run_succeeded(T0 + 3) is not None
    finally:
        await notifier.close()
    assert kinds(receiver) == ["failing", "recovered"]
    [(record, fields), *_] = logged(caplog, "alerts.ledger_unavailable")
    assert record.levelno == logging.WARNING and "no such table: job_failures" in fields["error"]


async def test_a_decision_made_while_the_database_was_locked_is_stored_later(db: Path, receiver: Receiver) -> None:
    notifier = await start(db, receiver)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the app holding its write lock
    try:
        await notifier.run_failed(T0 + 1, LOCKED)
        assert await notifier.run_failed(T0 + 2, LOCKED) is not None
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert await notifier.run_failed(T0 + 3, LOCKED) is None  # the incident is still open, now stored
    stored = await JobFailures.open(db, busy_timeout_ms=1000)
    assert (await stored.read()).incident_started_ms == T0 + 2
    await stored.close()
    assert await notifier.run_succeeded(T0 + 4) is not None
    await notifier.close()
    assert kinds(receiver) == ["failing", "recovered"]
