"""The faust application of one worker: ingest, the snapshot timer, heartbeats and the scheduled
reconciliation as services of one app, sharing one window state and one lock over it.

Faust owns the lifecycle (start-up order, signal handling, graceful stop); the services own the
work. Faust's own web server and Kafka clients stay off: nothing here listens on a non-loopback
address, and ingest reads and writes Kafka with aiokafka clients of its own.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import faust
import mode
from faust.app.base import BootStrategy

from agents.control import MaterializeRequest
from agents.heartbeat import HeartbeatService
from agents.ingest import IngestService
from agents.reconcile_service import ReconcileService
from agents.side_services import MetricsEndpoint
from agents.snapshot_service import SnapshotService
from appdb.loader import load_partition_from_app_db
from config.settings import Settings
from observability.metrics import job_metrics, stream_metrics
from streams.aggregation import PartitionState, boundary_for
from streams.scoring import needs_author_counts, required_span_ms, scoring_windows
from streams.state_store import RocksStore
from streams.stream_state import StreamState
from streams.windows import retention_ms, window_set


@dataclass
class Worker:
    app: faust.App
    state: StreamState
    ingest: IngestService
    snapshots: SnapshotService
    worker_id: str
    fatal_errors: list[BaseException]


# The window state is millions of long-lived objects (tallies, author reference counts). At the
# default gen-0 threshold (700 allocations) the cyclic collector runs every few hundred events and
# its full collections grow with the state: measured at 100k topics, 3 to 4 times the collector
# time of this setting, about a fifth of the fold's CPU. The state forms no reference cycles.
GC_THRESHOLDS = (50_000, 20, 10)


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def build_worker(
    settings: Settings,
    bootstrap: str,
    *,
    broker_incarnation: str | None = None,
    extra_services: Iterable[mode.Service] = (),
) -> Worker:
    """Wire a worker against the broker at `bootstrap` (host:port list)."""
    gc.set_threshold(*GC_THRESHOLDS)
    worker_id = new_worker_id()
    # The score profiles decide what the state keeps: their baseline windows, facts far enough back
    # to classify self-boosts, and per-author boosts when one caps authors or drops self-boosts.
    profiles = settings.metrics.profiles.computed
    windows = (*window_set(settings.metrics.extra_windows), *scoring_windows(profiles))
    grace_ms = settings.stream.late_grace_minutes * 60_000
    retention = max(retention_ms(windows, grace_ms), required_span_ms(profiles) + grace_ms)
    head = boundary_for(int(time.time() * 1000), settings.interval_ms)
    store = RocksStore(settings.stream.data_dir / "rocksdb")
    per_author = any(needs_author_counts(p) for p in profiles)
    state = StreamState(store, windows, retention, head, per_author_boosts=per_author)
    state.check_broker_incarnation(broker_incarnation)

    app = _ServicesApp(
        f"{settings.kafka.group_id}-app",
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        store="memory://",
        datadir=str(settings.stream.data_dir / "faust"),
    )
    streams = stream_metrics()
    jobs = job_metrics(emit_histogram=settings.metrics.emit_histogram)

    async def load(partition: PartitionState) -> int:
        if not settings.stream.bootstrap_from_app_db:
            return 0
        return await load_partition_from_app_db(settings, partition)

    fatal_errors: list[BaseException] = []

    def stop_on_fatal(error: BaseException) -> None:
        # Through the faust worker's own SIGTERM handling, so every service stops cleanly.
        fatal_errors.append(error)
        os.kill(os.getpid(), signal.SIGTERM)

    snapshots: SnapshotService

    def ingest_failed(error: BaseException) -> None:
        # Alerted (webhook, Sentry) like a fatal snapshot failure, and only then stopped.
        report = asyncio.ensure_future(snapshots.report_fatal(error))
        report.add_done_callback(lambda _: stop_on_fatal(error))

    state_lock = asyncio.Lock()  # batches, restores, rebalances, the reconciliation's folds and snapshots
    ingest = IngestService(settings, bootstrap, state, streams, state_lock=state_lock, load_from_app_db=load,
                           on_barrier=lambda request: _materialize(snapshots, request), on_fatal=ingest_failed)

    snapshots = SnapshotService(settings, state, ingest.caught_up, jobs, streams, worker_id, stop_on_fatal, state_lock)
    heartbeat = HeartbeatService(settings, worker_id, lambda: ingest.assigned)
    reconciler = ReconcileService(settings, state, lambda: ingest.assigned, state_lock)
    services: list[mode.Service] = [ingest, snapshots, heartbeat, reconciler, *extra_services]
    if settings.metrics.prometheus_port:
        services.append(MetricsEndpoint(settings.metrics.prometheus_port, settings.metrics.bind_host))
    for service in services:
        app.service(service)  # type: ignore[arg-type]
    return Worker(app, state, ingest, snapshots, worker_id, fatal_errors)


class _ServicesOnly(BootStrategy):
    """Start the app's services, not faust's own Kafka clients: ingest reads the topic with aiokafka
    itself and no faust agent, topic or table exists. Faust's consumer would join a group of its
    own, poll in a thread of its own (about a tenth of the worker's samples in a profile of the
    catch-up, taking the GIL from ingest) and, with the broker gone, crash on stop and leave the
    worker unable to exit."""

    enable_kafka = False


class _ServicesApp(faust.App):
    BootStrategy = _ServicesOnly


MATERIALIZE_RETRY_SECONDS = 30.0


async def _materialize(snapshots: SnapshotService, request: MaterializeRequest) -> None:
    await snapshots.run_boundary(request.boundary, deadline=time.time() + MATERIALIZE_RETRY_SECONDS, scheduled=False,
                                 request_id=request.request_id)
