"""The sink timer: on every wall-clock boundary, write this worker's part of the snapshot.

Boundaries are computed from the wall clock each time (never by adding intervals to a sleep), so
the schedule does not drift; one lock serialises timer runs and `materialize` requests, so runs
never overlap. The first run happens at start-up, once the worker has caught up with what Kafka
held when its partitions were assigned.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiosqlite
import mode

from config.settings import Settings
from observability.logs import log_event
from observability.metrics import JobMetrics, StreamMetrics
from sinks.database import connect_writer
from sinks.snapshot_writer import RunRecord, write_snapshot_part
from streams.aggregation import boundary_for
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.sink")


def now_ms() -> int:
    return int(time.time() * 1000)


class SnapshotService(mode.Service):
    def __init__(
        self,
        settings: Settings,
        state: StreamState,
        caught_up: asyncio.Event,
        job_metrics: JobMetrics,
        stream_metrics: StreamMetrics,
        worker_id: str,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.stream_state = state
        self.caught_up = caught_up
        self.job_metrics = job_metrics
        self.stream_metrics = stream_metrics
        self.worker_id = worker_id
        self._lock = asyncio.Lock()
        self._conn: aiosqlite.Connection | None = None

    async def on_start(self) -> None:
        self._conn = await connect_writer(self.settings.database.path)
        self.job_metrics.set_weights(self.settings.metrics.score_weights)

    async def on_stop(self) -> None:
        if self._conn is not None:
            await self._conn.close()

    @mode.Service.task
    async def _timer(self) -> None:
        if not self.settings.metrics.enabled:
            log_event(log, "trending_metrics_job.disabled")
            return
        await self.wait_for_stopped(self.caught_up.wait())
        interval = self.settings.interval_ms
        while not self.should_stop:
            boundary = boundary_for(now_ms(), interval)
            await self.write(boundary)
            await self.sleep(max(boundary + interval - now_ms(), 0) / 1000)

    async def write(self, boundary: int) -> RunRecord | None:
        """Write this worker's partitions for `boundary`; returns the run once the snapshot is complete."""
        assert self._conn is not None
        async with self._lock:
            started = now_ms()
            self.stream_state.advance(boundary)
            partitions = sorted(self.stream_state.partitions)
            if not partitions:
                return None
            parts = self.stream_state.snapshot(boundary, self.settings.metrics.score_weights, started, partitions)
            try:
                record = await write_snapshot_part(
                    self._conn,
                    boundary,
                    {p: s.rows for p, s in parts.items()},
                    window_rows_by_partition={p: s.window_rows for p, s in parts.items()},
                    total_partitions=self.settings.kafka.partitions,
                    worker_id=self.worker_id,
                    ttl_hours=self.settings.metrics.ttl_hours,
                    started_at=started,
                )
            except Exception as exc:
                self.job_metrics.record_failure(now_ms())
                log_event(log, "trending_metrics_job.failed", level=logging.ERROR, error=repr(exc),
                          retry_in_seconds=None, window_end=boundary)
                raise
            rows = sum(len(s.rows) for s in parts.values())
            self.stream_metrics.set_snapshot_rows(rows)
            if record is None:
                log_event(log, "trending_metrics_job.part_written", window="24h", window_end=boundary,
                          partitions=partitions, topics=rows, duration_ms=now_ms() - started)
                return None
            self.job_metrics.record_success(record, lag_ms=now_ms() - boundary)
            log_event(log, "trending_metrics_job.completed", window="24h", window_end=boundary,
                      topics=record.topics_upserted, duration_ms=record.duration_ms,
                      expired_records=record.expired_records)
            return record
