"""A worker whose snapshots fail fatally alerts before it stops, once per incident across restarts,
and the sink's table check and duration gauge see the real snapshot."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from sinks.migrate import migrate
from tests.agents.test_sink_faults import sample, sink_with_state
from tests.fixtures.webhook import Receiver

pytestmark = pytest.mark.integration


async def test_fatal_errors_alert_before_the_worker_stops_and_once_across_restarts(
    tmp_path: Path, receiver: Receiver
) -> None:
    db = tmp_path / "kukuri.db"
    payloads_at_stop: list[int] = []  # how many alerts had arrived each time a worker was told to stop
    for restart in range(3):
        service, registry, _, boundary = await sink_with_state(tmp_path, receiver.url)
        if restart == 0:
            with sqlite3.connect(db) as conn:
                conn.execute("ALTER TABLE topic_metrics RENAME TO topic_metrics_moved")  # a schema gone wrong
        service.on_fatal = lambda _: payloads_at_stop.append(len(receiver.payloads))
        assert await service.run_boundary(boundary, deadline=time.time() + 5, scheduled=True) is None
        await service.on_shutdown()
    # Each worker was stopped; the first only after its alert had arrived, the restarts stayed quiet.
    assert payloads_at_stop == [1, 1, 1]
    assert len(receiver.payloads) == 1 and "the worker is stopping" in receiver.payloads[0]["text"]
    assert receiver.payloads[0]["channel"] == "#alerts-trending"

    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE topic_metrics_moved RENAME TO topic_metrics")  # the operator's fix
    service, registry, _, boundary = await sink_with_state(tmp_path, receiver.url)
    record = await service.run_boundary(boundary, deadline=time.time() + 5, scheduled=True)
    assert record is not None
    assert len(receiver.payloads) == 2 and receiver.payloads[1]["text"].startswith(":white_check_mark:")
    assert sample(registry, "kukuri_trending_metrics_job_last_duration_seconds") == record.duration_ms / 1000
    assert sample(registry, "kukuri_trending_topic_metrics_rows") == record.topics_upserted
    assert sample(registry, "kukuri_trending_topic_metrics_expected_rows") == record.topics_upserted
    assert sample(registry, "kukuri_trending_topic_metrics_expired_rows") == 0
    assert sample(registry, "kukuri_trending_metrics_job_enabled") == 1
    await service.on_shutdown()


async def test_a_worker_that_keeps_dying_early_still_reports_staleness_once(tmp_path: Path, receiver: Receiver) -> None:
    db = tmp_path / "kukuri.db"
    await migrate(db)
    twenty_minutes_ago = int(time.time() * 1000) - 20 * 60_000
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO trending_runs (window_end, source, started_at, finished_at) VALUES (?, 'stream', ?, ?)",
                     (twenty_minutes_ago - twenty_minutes_ago % 300_000, twenty_minutes_ago, twenty_minutes_ago))
    for _ in range(3):  # each start lives a moment only: no 30-second staleness tick ever runs
        service, *_ = await sink_with_state(tmp_path, receiver.url)
        await service.on_shutdown()
    assert len(receiver.payloads) == 1
    assert "no snapshot committed since" in receiver.payloads[0]["text"]


async def test_a_fatal_error_of_the_ingest_alerts_through_the_sink(tmp_path: Path, receiver: Receiver) -> None:
    # What the worker does when the ingest gives up restoring its partitions.
    service, registry, _, _ = await sink_with_state(tmp_path, receiver.url)
    await service.report_fatal(RuntimeError("could not restore partitions [0, 1]"))
    assert len(receiver.payloads) == 1
    assert "the worker is stopping" in receiver.payloads[0]["text"]
    assert "could not restore partitions" in receiver.payloads[0]["text"]
    assert sample(registry, "kukuri_trending_metrics_job_failures_total") == 1
    await service.on_shutdown()
