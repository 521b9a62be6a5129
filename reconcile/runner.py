"""Reconcile one boundary: recompute it from the app database, diff it with what is stored, repair.

A repair is `sinks.storage.snapshots.write_snapshot(source="reconcile")`: the whole snapshot for E is
replaced in one transaction, so afterwards the stored snapshot IS the recomputed one. Nothing is
written when the stored snapshot already matches and a run is recorded for E, so a clean
reconcile never hides which source (the stream) produced a snapshot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiosqlite

from appdb.recompute import recompute_snapshot
from config.settings import Settings
from observability.logs import log_event
from reconcile import metrics
from reconcile.diff import SnapshotDiff, diff_snapshot
from reconcile.errors import ReconcileError, database_errors
from sinks.database import connect_reader, connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.reads import read_stored
from sinks.storage.snapshots import RunRecord, now_ms, write_snapshot
from streams.metrics import Snapshot
from streams.snapshot_profiles import part_profiles
from streams.windows import align_down

log = logging.getLogger("kukuri_trending.reconcile")


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    boundary: int
    diff: SnapshotDiff
    dry_run: bool
    previous_source: str | None  # who had recorded a run for E before, None if nobody
    run: RunRecord | None  # the run this reconcile recorded, None when it wrote nothing
    duration_ms: int

    @property
    def repaired(self) -> bool:
        """True when stored rows were wrong and have been rewritten."""
        return self.run is not None and not self.diff.clean


class Reconciler:
    """Settles recomputed snapshots against the stored ones, for one boundary or a batch of them.

    Holds one read-only connection for every comparison and opens one writer on the first repair
    (applying pending migrations then), instead of a connection pair per boundary: gap repair
    settles hundreds of boundaries in a row. Every read and write is still its own short
    transaction. Updates the reconcile counters; raises `ReconcileError` and leaves logging it to
    the caller (the CLI prints one line, the worker logs).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._path = settings.database.path
        self._reader: aiosqlite.Connection | None = None
        self._writer: aiosqlite.Connection | None = None

    async def __aenter__(self) -> Reconciler:
        try:
            with database_errors("read the app database", self._path):
                self._reader = await connect_reader(self._path)
        except ReconcileError:
            metrics.FAILURES.inc()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()

    @property
    def reader(self) -> aiosqlite.Connection:
        assert self._reader is not None, "use Reconciler in `async with`"
        return self._reader

    async def settle(self, snapshot: Snapshot, *, dry_run: bool, started: int) -> ReconcileResult:
        """Diff `snapshot` with the stored one and, unless `dry_run`, write it if anything differs."""
        try:
            with database_errors("read the stored snapshot from", self._path):
                stored = await read_stored(self.reader, snapshot.boundary)
            diff = diff_snapshot(
                snapshot.boundary, snapshot.rows, stored.rows, snapshot.window_rows, stored.window_rows
            )
            run = None
            if not dry_run and (not diff.clean or stored.run_source is None):
                with database_errors("write the repaired snapshot to", self._path):
                    run = await self._write(snapshot, started)
        except ReconcileError:
            metrics.FAILURES.inc()
            raise
        metrics.RUNS.inc()
        if run is not None:
            metrics.TOPICS_REPAIRED.inc(diff.topics_affected)
            metrics.CELLS_CHANGED.inc(diff.cells_changed)
        return ReconcileResult(snapshot.boundary, diff, dry_run, stored.run_source, run, now_ms() - started)

    async def _write(self, snapshot: Snapshot, started: int) -> RunRecord:
        if self._writer is None:
            self._writer = await connect_writer(self._path)
            await apply_migrations(self._writer)
        return await write_snapshot(
            self._writer, snapshot.boundary, snapshot.rows, source="reconcile",
            ttl_hours=self._settings.metrics.ttl_hours, history_ttl_hours=self._settings.metrics.history_ttl_hours,
            started_at=started, window_rows=snapshot.window_rows, profile_rows=snapshot.profile_rows,
            profiles=part_profiles(self._settings.metrics.profiles.computed),
        )


async def reconcile_boundary(settings: Settings, boundary: int, *, dry_run: bool = False) -> ReconcileResult:
    """Reconcile boundary E (a multiple of the interval). Raises `ReconcileError` on failure (not logged)."""
    if boundary % settings.interval_ms:
        raise ValueError(f"{boundary} is not a multiple of the {settings.metrics.interval_minutes}-minute interval")
    started = now_ms()
    path = settings.database.path
    try:
        with database_errors("read the app database", path):
            snapshot = await recompute_snapshot(
                path, boundary, settings.metrics.profiles.computed,
                extra_windows=settings.metrics.extra_windows, updated_at=started,
            )
    except ReconcileError:
        metrics.FAILURES.inc()
        raise
    async with Reconciler(settings) as reconciler:
        result = await reconciler.settle(snapshot, dry_run=dry_run, started=started)
    # A repair is news for operators; a clean check is not.
    log_event(
        log, "reconcile.completed", logging.INFO if result.run is not None else logging.DEBUG,
        window_end=boundary, dry_run=dry_run, clean=result.diff.clean, written=result.run is not None,
        topics=len(snapshot.rows), topics_affected=result.diff.topics_affected,
        cells_changed=result.diff.cells_changed, duration_ms=result.duration_ms,
    )
    return result


async def reconcile_latest(settings: Settings, *, now: int | None = None) -> ReconcileResult:
    """Reconcile and repair the latest boundary (now aligned down); the worker calls this on a schedule.

    Call it some seconds after a boundary, once the stream has committed that boundary's snapshot;
    earlier, it finds no run and writes the snapshot itself (the stream's write then replaces it).
    Raises `ReconcileError` (counted in `kukuri_trending_reconcile_failures_total`, not logged).
    """
    current = now_ms() if now is None else now
    return await reconcile_boundary(settings, align_down(current, settings.interval_ms))
