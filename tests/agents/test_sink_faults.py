"""Sink failures through the real parts: a SQLite file locked by another connection, a schema that
no longer matches, the alert webhook on a local HTTP server, and a broker restarted under a
running worker."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents.control import CONTROL_HEADER, MATERIALIZE, MaterializeRequest
from agents.snapshot_service import SnapshotService
from broker.embedded import EmbeddedBroker
from broker.topics import ensure_topics
from config.settings import AlertSettings, BackoffSettings, DatabaseSettings, Settings
from observability.logs import FIELDS_ATTR
from observability.metrics import job_metrics, stream_metrics
from producer.sender import new_producer
from producer.synthetic import TrafficGenerator, delivery
from sinks.migrate import migrate
from streams.aggregation import boundary_for
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, retention_ms, window_set
from tests.agents.test_worker_integration import materialize, now_boundary, produce_events
from tests.fixtures.app_db import build_app_db
from tests.fixtures.trending_env import TrendingEnv
from tests.fixtures.webhook import Receiver
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration


def failed_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [getattr(r, FIELDS_ATTR) for r in caplog.records if getattr(r, "event", None) == "trending_metrics_job.failed"]


def sample(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value(name)
    return 0.0 if value is None else value


async def sink_with_state(tmp_path: Path, webhook: str) -> tuple[SnapshotService, CollectorRegistry, list[Event], int]:
    settings = Settings(
        database=DatabaseSettings(path=tmp_path / "kukuri.db", busy_timeout_ms=50),
        backoff=BackoffSettings(failures_before_skip=3, skip_minutes=15, initial_retry_seconds=0.05,
                                max_retry_seconds=0.2),
        alerts=AlertSettings(webhook_url=webhook, consecutive_failures=2),
    )
    await migrate(settings.database.path)
    boundary = boundary_for(int(time.time() * 1000), settings.interval_ms)
    windows = window_set()
    state = StreamState(MemoryStore(), windows, retention_ms(windows), boundary)
    events = [e for a in TrafficGenerator(8, seed=3).actions(boundary - 20 * HOUR_MS, boundary, 300) for e in a.events]
    for p in range(settings.kafka.partitions):
        state.attach(await state.load(p))
    for i, event in enumerate(events):
        state.partitions[i % settings.kafka.partitions].apply(replace(event, topic_id=f"{event.topic_id}-{i % 4}"))
    registry = CollectorRegistry()
    fatal: list[BaseException] = []
    caught_up = asyncio.Event()
    caught_up.set()  # every partition is current: scheduled runs may write
    service = SnapshotService(settings, state, caught_up, job_metrics(registry=registry),
                              stream_metrics(registry), "worker-under-test", on_fatal=fatal.append)
    await service.on_start()
    return service, registry, events, boundary


async def test_locked_database_retries_then_skips_leaves_no_partial_snapshot_and_alerts(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service, registry, _, boundary = await sink_with_state(tmp_path, receiver.url)
    blocker = sqlite3.connect(tmp_path / "kukuri.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the app holding its write lock
    try:
        for run in range(3):
            record = await service.run_boundary(boundary, deadline=time.time() + 0.5, scheduled=True)
            assert record is None
            assert service.policy.consecutive_failures == run + 1
        assert not service.policy.should_run(time.time())  # three failed runs: skip the next 15 minutes
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    lines = failed_lines(caplog)
    retries = [line for line in lines if line["retry_in_seconds"] is not None and line["retry_in_seconds"] < 1]
    assert retries, "transient errors are retried within the run"
    assert all("database is locked" in line["error"] and line["error_class"] == "transient" for line in lines)
    assert lines[-1]["retry_in_seconds"] >= 14 * 60  # the give-up line says when the job tries again
    assert sample(registry, "kukuri_trending_metrics_job_failures_total") == 3
    assert sample(registry, "kukuri_trending_metrics_job_runs_total") == 0
    with sqlite3.connect(tmp_path / "kukuri.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM topic_metrics").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM trending_runs").fetchone() == (0,)
    assert [p["text"] for p in receiver.payloads if "failing" in json.dumps(p).lower()], receiver.payloads
    assert len(receiver.payloads) == 1  # one alert per incident

    service.policy.skip_until = time.time()  # the skip period is over
    record = await service.run_boundary(boundary, deadline=time.time() + 5, scheduled=True)
    assert record is not None and record.topics_upserted > 0
    assert sample(registry, "kukuri_trending_metrics_job_runs_total") == 1
    assert len(receiver.payloads) == 2 and "recover" in json.dumps(receiver.payloads[1]).lower()
    await service.on_shutdown()  # closes the webhook session and the connection


def test_schema_mismatch_stops_the_worker_with_a_non_zero_exit(trending_env: TrendingEnv) -> None:
    env = trending_env
    worker = env.start_worker()
    env.wait_for_workers()
    env.query("ALTER TABLE trending_runs RENAME TO trending_runs_moved")
    result = env.cli("materialize", "--timeout", "10")
    assert result.returncode == 1
    assert worker.wait(timeout=60) != 0
    fatal = [json.loads(line) for line in env.logs().splitlines()
             if line.startswith("{") and '"trending_metrics_job.failed"' in line]
    assert fatal and fatal[-1]["error_class"] == "fatal" and "no such table" in fatal[-1]["error"]


class OwnBroker:
    """A broker of the test's own, for tests that restart it (the session's broker must not be).

    Tansu is memory-only: `restart_empty` brings it back on the same port with nothing in it, as a
    production broker would look after losing its disks, and creates the topics again.
    """

    def __init__(self, env: TrendingEnv, tmp_path: Path) -> None:
        self.env = env
        self.logs = tmp_path
        self.broker = self._start(EmbeddedBroker(log_path=tmp_path / "own-tansu-0.log"))
        env.write_config()

    def _start(self, broker: EmbeddedBroker) -> EmbeddedBroker:
        broker.start_sync()
        self.env.broker = broker
        return broker

    def restart_empty(self) -> None:
        port = self.broker.port
        self.broker.stop_sync()
        self.broker = self._start(EmbeddedBroker(port=port, log_path=self.logs / f"own-tansu-{port}.log"))
        kafka = self.env.settings.kafka
        asyncio.run(ensure_topics(self.broker.bootstrap, {kafka.events_topic: 4, kafka.dlq_topic: 4}))

    def stop(self) -> None:
        self.env.close()
        self.broker.stop_sync()


def test_broker_restarted_empty_under_a_running_worker(trending_env: TrendingEnv, tmp_path: Path) -> None:
    """Tansu is memory-only: after a restart the topic is empty. The worker must notice, rebuild the
    lost history from the app database, and go on counting new events exactly once."""
    env = trending_env
    broker = OwnBroker(env, tmp_path)
    E = now_boundary()
    rng = random.Random(11)
    generator = TrafficGenerator(10, seed=11)
    before = list(generator.actions(E - 20 * HOUR_MS, E - 2 * HOUR_MS, 600))
    after = list(generator.actions(E - 2 * HOUR_MS, E, 300))
    try:
        asyncio.run(build_app_db(env.db, [e for a in before for e in a.events]))
        env.start_worker()
        env.wait_for_workers()
        produce_events(env, list(delivery(iter(before), rng)))
        materialize(env, E)
        assert env.snapshot(E) == expected_rows([e for a in before for e in a.events], E)

        broker.restart_empty()
        asyncio.run(build_app_db(env.db, [e for a in after for e in a.events]))
        produce_events(env, list(delivery(iter(after), rng)))
        env.wait_until(lambda: "trending_stream.state_reset" in env.logs(), 60, "the worker to notice the empty broker")
        materialize(env, E)
        assert env.snapshot(E) == expected_rows([e for a in before + after for e in a.events], E)
    finally:
        broker.stop()


def test_a_worker_whose_broker_is_gone_still_stops_when_asked(trending_env: TrendingEnv, tmp_path: Path) -> None:
    """SIGTERM with the broker down: the state is checkpointed and the process exits, instead of
    waiting for the broker (an offset commit, a consumer leaving its group) until it is killed."""
    env = trending_env
    broker = OwnBroker(env, tmp_path)
    E = now_boundary()
    try:
        worker = env.start_worker()
        env.wait_for_workers()
        produce_events(env, [e for a in TrafficGenerator(5, seed=8).actions(E - HOUR_MS, E, 50) for e in a.events])
        env.wait_until(lambda: "trending_stream.caught_up" in env.logs(), 60, "the worker to catch up")
        broker.broker.stop_sync()
        env.wait_until(lambda: "KafkaConnectionError" in env.logs() or "Unable connect" in env.logs(), 30,
                       "the worker to lose the broker")
        assert env.stop_worker(worker, timeout=30) == 0
    finally:
        broker.stop()


def test_a_long_lock_and_an_out_of_range_request_do_not_stop_the_worker(trending_env: TrendingEnv) -> None:
    """Through the real worker: the app holds its write lock longer than the busy timeout (the
    heartbeat and the sink both meet it), and a barrier asks for a boundary the state no longer
    covers. The worker logs both and keeps serving."""
    env = trending_env
    worker = env.start_worker()
    env.wait_for_workers()
    E = now_boundary()
    events = [e for a in TrafficGenerator(5, seed=4).actions(E - 5 * HOUR_MS, E, 200) for e in a.events]
    produce_events(env, events)

    blocker = sqlite3.connect(env.db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    time.sleep(8)
    blocker.execute("ROLLBACK")
    blocker.close()

    asyncio.run(send_barrier(env, boundary=E - HOUR_MS))
    env.wait_until(lambda: "trending_metrics_job.rejected" in env.logs(), 30, "the stale request to be rejected")
    assert worker.poll() is None, env.logs()[-3000:]
    assert "trending_worker.heartbeat_failed" in env.logs()
    materialize(env, E)
    assert env.snapshot(E) == expected_rows(events, E)
    assert worker.poll() is None


async def send_barrier(env: TrendingEnv, boundary: int) -> None:
    request = MaterializeRequest("test-request", boundary, int(time.time() * 1000))
    producer = new_producer(env.broker.bootstrap)
    await producer.start()
    try:
        for p in range(4):
            await producer.send_and_wait(env.events_topic, request.encode(), partition=p,
                                         headers=[(CONTROL_HEADER, MATERIALIZE)])
    finally:
        await producer.stop()


def test_a_refilled_broker_is_not_mistaken_for_the_old_log(trending_env: TrendingEnv, tmp_path: Path) -> None:
    """The broker restarts empty while the worker is down and receives more records than the state
    had consumed before the worker returns. Offsets alone look fine; the record fingerprint does
    not match, so the worker rebuilds instead of skipping the new log's first records."""
    env = trending_env
    broker = OwnBroker(env, tmp_path)
    E = now_boundary()
    rng = random.Random(12)
    generator = TrafficGenerator(8, seed=12)
    before = list(generator.actions(E - 20 * HOUR_MS, E - 3 * HOUR_MS, 200))
    after = list(generator.actions(E - 3 * HOUR_MS, E, 700))
    try:
        asyncio.run(build_app_db(env.db, [e for a in before for e in a.events]))
        worker = env.start_worker()
        env.wait_for_workers()
        produce_events(env, list(delivery(iter(before), rng)))
        materialize(env, E)
        assert env.stop_worker(worker) == 0

        broker.restart_empty()
        asyncio.run(build_app_db(env.db, [e for a in after for e in a.events]))
        produce_events(env, list(delivery(iter(after), rng)))  # more records than before, per partition

        env.start_worker()
        env.wait_for_workers()
        materialize(env, E)
        assert "trending_stream.state_reset" in env.logs()
        assert env.snapshot(E) == expected_rows([e for a in before + after for e in a.events], E)
    finally:
        broker.stop()


async def test_the_worker_s_snapshot_expires_history_older_than_its_ttl(
    tmp_path: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    service, _, _, boundary = await sink_with_state(tmp_path, receiver.url)
    try:
        ttl_ms = service.settings.metrics.history_ttl_hours * HOUR_MS
        old, recent = boundary - ttl_ms - 300_000, boundary - ttl_ms + 300_000
        with sqlite3.connect(tmp_path / "kukuri.db") as conn:
            conn.executemany(
                "INSERT INTO topic_metrics_history (topic_id, window_start, window_end, updated_at, source, run_at)"
                " VALUES ('t', ?, ?, 0, 'backfill', 0)", [(e - 24 * HOUR_MS, e) for e in (old, recent)])
        record = await service.run_boundary(boundary, deadline=time.time() + 5, scheduled=True)
        assert record is not None and record.expired_history == 1
        with sqlite3.connect(tmp_path / "kukuri.db") as conn:
            assert conn.execute("SELECT window_end FROM topic_metrics_history").fetchall() == [(recent,)]
        [completed] = [r for r in caplog.records if getattr(r, "event", None) == "trending_metrics_job.completed"]
        assert getattr(completed, FIELDS_ATTR)["expired_history"] == 1
    finally:
        await service.on_shutdown()
