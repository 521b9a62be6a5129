"""The sink timer: on every wall-clock boundary, write this worker's part of the snapshot.

Boundaries are computed from the wall clock each time (never by adding intervals to a sleep), so
the schedule does not drift; one lock serialises timer runs and `materialize` requests, so runs
never overlap. The first run happens at start-up, once the worker has caught up with what Kafka
held when its partitions were assigned.

Failures follow `agents.run_policy`: a transient error (a locked database, a timeout) is retried
with backoff while the run still fits its interval; after `failures_before_skip` failed runs the
job pauses for `skip_minutes`; a fatal error (schema mismatch, unwritable file) stops the worker
with a non-zero exit instead of looping. A failed run rolls back, so no partial snapshot exists.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import aiosqlite
import mode

from agents.heap import trim_heap
from agents.run_policy import RunPolicy, failure_fields
from config.settings import ConfigError, Settings
from observability.alerts import AlertNotifier, check_table_size, row_limit
from observability.logs import log_event
from observability.metrics import JobMetrics, StreamMetrics
from sinks.database import connect_writer, file_identity
from sinks.failures import classify
from sinks.storage.job_failures import JobFailures
from sinks.storage.profile_reads import stored_comparisons
from sinks.storage.reads import last_finished_at, run_at_or_before
from sinks.storage.snapshots import RunRecord, write_snapshot_part
from sinks.storage.table_health import topic_metrics_health
from streams.aggregation import BoundaryOutOfRange, boundary_for
from streams.scoring import min_authors_of, missing_windows
from streams.snapshot_profiles import part_profiles
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.sink")

STALENESS_CHECK_SECONDS = 30.0


def now_ms() -> int:
    return int(time.time() * 1000)


class _NotCaughtUp(Exception):
    """A scheduled run met a partition that is still replaying (a rebalance since it was due)."""


class FatalSinkError(RuntimeError):
    """A snapshot failure that retrying cannot fix; the worker stops with a non-zero exit."""


class SnapshotService(mode.Service):
    def __init__(
        self,
        settings: Settings,
        state: StreamState,
        caught_up: asyncio.Event,
        job_metrics: JobMetrics,
        stream_metrics: StreamMetrics,
        worker_id: str,
        on_fatal: Callable[[BaseException], None],
        state_lock: asyncio.Lock | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_fatal = on_fatal
        # The ingest's lock over the window state: advancing and reading it never lands between a
        # batch's fold and its checkpoint.
        self.state_lock = state_lock or asyncio.Lock()
        self.settings = settings
        self.stream_state = state
        self.caught_up = caught_up
        self.job_metrics = job_metrics
        self.stream_metrics = stream_metrics
        self.worker_id = worker_id
        self.policy = RunPolicy.from_settings(settings.backoff)
        self._lock = asyncio.Lock()
        self._conn: aiosqlite.Connection | None = None
        self._alerts: AlertNotifier | None = None
        self._last_success: int | None = None

    async def on_start(self) -> None:
        missing = missing_windows(self.settings.metrics.profiles.computed, self.stream_state.windows)
        if missing:
            profile, window = missing[0]
            raise ConfigError(
                f"metrics: score profile {profile!r} reads the window {window}, which this worker's window state "
                "does not keep (build the worker's windows with streams.scoring.scoring_windows)"
            )
        self._conn = await connect_writer(self.settings.database.path,
                                          busy_timeout_ms=self.settings.database.busy_timeout_ms)
        self._file = file_identity(self.settings.database.path)
        self.job_metrics.set_weights(self.settings.metrics.profiles.active.weights)
        self.job_metrics.set_profiles(self.settings.metrics.profiles.computed)
        self.job_metrics.set_enabled(self.settings.metrics.enabled)
        last = await last_finished_at(self._conn)
        if last is not None:
            self._last_success = last
            self.job_metrics.restore_last_success(self._last_success)
        ledger = await JobFailures.open(self.settings.database.path,
                                        busy_timeout_ms=self.settings.database.busy_timeout_ms)
        self._alerts = AlertNotifier.from_settings(self.settings.alerts, now_ms=now_ms(),
                                                   last_success_ms=self._last_success, ledger=ledger,
                                                   worker_id=self.worker_id, job_enabled=self.settings.metrics.enabled)
        # At once, not after the first 30 s: a worker that keeps crashing early must still report staleness.
        await self._alerts.tick(now_ms(), self._last_success)

    async def on_shutdown(self) -> None:
        """After the service's tasks have stopped, so none of them uses what is closed here."""
        if self._alerts is not None:
            await self._alerts.close()
        if self._conn is not None:
            await self._conn.close()

    @mode.Service.task
    async def _timer(self) -> None:
        if not self.settings.metrics.enabled:
            log_event(log, "trending_metrics_job.disabled")
            return
        interval = self.settings.interval_ms
        while not self.should_stop:
            # After start-up or a rebalance, wait until every owned partition has replayed what
            # the broker held: a snapshot from half-rebuilt state would look complete and be wrong.
            await self.wait_for_stopped(self.caught_up.wait())
            if self.should_stop:
                return
            boundary = boundary_for(now_ms(), interval)
            if self.policy.should_run(time.time()):
                await self.run_boundary(boundary, deadline=(boundary + interval) / 1000, scheduled=True)
            else:
                log_event(log, "trending_metrics_job.skipped", window_end=boundary,
                          skip_until_ms=int((self.policy.skip_until or 0) * 1000))
            await self.sleep(max(boundary + interval - now_ms(), 0) / 1000)

    @mode.Service.task
    async def _staleness(self) -> None:
        """Alert when the last success grows old even if no run fails (a stuck worker, say).

        The newest run is read from the database: with several workers, the run is recorded by
        whichever completes the snapshot, not necessarily this one.
        """
        while not self.should_stop:
            await self.sleep(STALENESS_CHECK_SECONDS)
            if self.should_stop:
                return  # the connection closes with the service
            if self._alerts is None or self._conn is None:
                continue
            try:
                last = await last_finished_at(self._conn)
            except sqlite3.Error as exc:
                log_event(log, "trending_metrics_job.staleness_check_failed", level=logging.WARNING, error=repr(exc))
                continue
            if last is not None:
                self._last_success = max(self._last_success or 0, last)
            await self._alerts.tick(now_ms(), self._last_success)

    async def run_boundary(
        self, boundary: int, *, deadline: float, scheduled: bool, request_id: str | None = None
    ) -> RunRecord | None:
        """Write `boundary`, retrying transient errors with backoff until `deadline` (epoch seconds).

        Only scheduled runs count towards the skip period; a failed `materialize` request is
        reported to its caller through the missing `trending_runs` row.
        """
        attempt = 0
        while not self.should_stop:
            attempt += 1
            try:
                record = await self.write(boundary, request_id, require_caught_up=scheduled)
            except _NotCaughtUp:
                await self.wait_for_stopped(self.caught_up.wait())
                continue
            except BoundaryOutOfRange as exc:
                # A request for a boundary the state no longer covers: nothing is broken.
                log_event(log, "trending_metrics_job.rejected", level=logging.WARNING, window_end=boundary,
                          reason=str(exc), hint="use `kukuri-trending reconcile --at T` for older boundaries")
                return None
            except Exception as exc:
                if classify(exc) == "fatal":
                    self.job_metrics.record_failure(now_ms())
                    log_event(log, level=logging.CRITICAL, **failure_fields(exc, None, window_end=boundary))
                    await self._report_failure(exc, boundary, fatal=True)
                    self.on_fatal(FatalSinkError(f"snapshot for {boundary} failed and cannot be retried: {exc!r}"))
                    return None
                delay = self.policy.next_retry_delay(attempt, time.time(), deadline)
                if delay is not None:
                    log_event(log, level=logging.WARNING,
                              **failure_fields(exc, delay, window_end=boundary, attempt=attempt))
                    await self.sleep(delay)
                    continue
                self.job_metrics.record_failure(now_ms())
                if scheduled:
                    self.policy.on_run_failed(time.time())
                retry_in = self.policy.seconds_until_next_attempt(time.time(), deadline)
                log_event(log, level=logging.ERROR,
                          **failure_fields(exc, retry_in, window_end=boundary, attempt=attempt))
                await self._report_failure(exc, boundary)
                return None
            if scheduled:
                self.policy.on_run_succeeded()
            return record
        return None

    async def report_fatal(self, exc: BaseException) -> None:
        """A fatal error of another service (the ingest): alert and report it before the worker stops."""
        self.job_metrics.record_failure(now_ms())
        log_event(log, level=logging.CRITICAL, **failure_fields(exc, None))
        if self._alerts is not None:
            await self._alerts.run_failed(now_ms(), exc, fatal=True)

    async def _report_failure(self, exc: BaseException, boundary: int, *, fatal: bool = False) -> None:
        if self._alerts is not None:
            await self._alerts.run_failed(now_ms(), exc, boundary=boundary, fatal=fatal)

    async def write(
        self, boundary: int, request_id: str | None = None, *, require_caught_up: bool = False
    ) -> RunRecord | None:
        """Write this worker's partitions for `boundary`; returns the run once the snapshot is complete.

        `request_id` names the `materialize` request this write answers (acknowledged with it).
        With `require_caught_up`, refuses (before reading any state) while a partition is replaying.
        """
        async with self._lock:
            if require_caught_up and not self.caught_up.is_set():
                raise _NotCaughtUp
            await self._same_file()
            assert self._conn is not None
            started = now_ms()
            async with self.state_lock:
                self.stream_state.advance(boundary)
                partitions = sorted(self.stream_state.partitions)
                if not partitions:
                    return None
                parts = self.stream_state.snapshot(boundary, self.settings.metrics.profiles.computed, started, partitions)
                positions = self.stream_state.positions(partitions)
            written = await write_snapshot_part(
                self._conn,
                boundary,
                {p: s.rows for p, s in parts.items()},
                window_rows_by_partition={p: s.window_rows for p, s in parts.items()},
                profile_rows_by_partition={p: s.profile_rows for p, s in parts.items()},
                profiles=part_profiles(self.settings.metrics.profiles.computed),
                total_partitions=self.settings.kafka.partitions,
                worker_id=self.worker_id,
                ttl_hours=self.settings.metrics.ttl_hours,
                history_ttl_hours=self.settings.metrics.history_ttl_hours,
                started_at=started,
                request_id=request_id,
                positions=positions,
            )
            rows = sum(len(s.rows) for s in parts.values())
            self.stream_metrics.set_snapshot_rows(rows)
            # The run freed its rows; with RocksDB's flushes, free pages pile up in malloc's arenas.
            await asyncio.to_thread(trim_heap)
            if written.stale:
                log_event(log, "trending_metrics_job.part_stale", level=logging.WARNING, window_end=boundary,
                          partitions=list(written.stale), positions={p: positions[p].next_offset for p in written.stale},
                          reason="a part read further into these partitions is already stored")
            record = written.run
            if record is None:
                log_event(log, "trending_metrics_job.part_written", window="24h", window_end=boundary,
                          partitions=partitions, topics=rows, duration_ms=now_ms() - started)
                return None
            await self._succeeded(record)
            return record

    async def _same_file(self) -> None:
        """Reopen when the path names another file than the connection has open (deleted, replaced
        or restored): writes into the old file would be invisible to every reader."""
        path = self.settings.database.path
        current = file_identity(path)
        if self._conn is not None and current == self._file:
            return
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        self._conn = await connect_writer(path, busy_timeout_ms=self.settings.database.busy_timeout_ms, create=False)
        self._file = current

    async def _succeeded(self, record: RunRecord) -> None:
        assert self._conn is not None
        self._last_success = record.finished_at
        self.job_metrics.record_success(record, lag_ms=record.finished_at - record.window_end)
        log_event(log, "trending_metrics_job.completed", window="24h", window_end=record.window_end,
                  topics=record.topics_upserted, duration_ms=record.duration_ms,
                  expired_records=record.expired_records, expired_history=record.expired_history)
        metrics = self.settings.metrics
        run = await run_at_or_before(self._conn, record.window_end)
        compared = [] if run is None else await stored_comparisons(
            self._conn, run, min_authors_of(run.score_fingerprint, metrics.profiles.defined.values())
        )
        self.job_metrics.record_comparisons([c for _, c in compared])
        health = await topic_metrics_health(self._conn, boundary=record.window_end, ttl_hours=metrics.ttl_hours)
        self.job_metrics.record_table_health(health, row_limit(health, metrics.row_count_margin))
        check_table_size(health, margin=metrics.row_count_margin, ttl_hours=metrics.ttl_hours)
        if self._alerts is not None:
            await self._alerts.run_succeeded(now_ms())
