"""Backfill: snapshots for every boundary of the last N minutes, so a new deployment has history.

Each snapshot goes into `topic_metrics_history` with source `backfill`, a few boundaries per
transaction (about `BATCH_ROWS` rows: a commit per boundary doubled the write time, while a
transaction that size holds the write lock for tens of milliseconds, well inside the app's busy
timeout); `apply` also writes the latest one into `topic_metrics` through the same writer as the
stream. The app database is read once for the
whole span (`reconcile.series`), which is what makes 288 boundaries take seconds. History older
than `history_ttl_hours` is deleted once the new rows are in.

`compare` reads the history back with `topic_metrics` for `backfill --compare`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import aiosqlite

from config.settings import Settings
from observability.logs import log_event
from reconcile.compare import BoundaryComparison, compare_history
from reconcile.errors import database_errors
from reconcile.progress import ProgressCallback
from reconcile.series import recompute_series
from sinks.database import connect_reader, connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.history import expire_history, history_rows, write_history
from sinks.storage.reads import metrics_rows
from sinks.storage.snapshots import RunRecord, now_ms, write_snapshot
from sinks.storage.sql import transaction
from streams.metrics import Snapshot
from streams.snapshot_profiles import part_profiles
from streams.windows import MINUTE_MS, align_down

BATCH_ROWS: Final = 10_000

log = logging.getLogger("kukuri_trending.backfill")


@dataclass(frozen=True, slots=True)
class BackfillResult:
    boundaries: list[int]  # ascending
    history_rows: int
    applied: RunRecord | None  # the run written into topic_metrics, when applied
    latest_topics: int  # topics in the latest boundary's snapshot
    expired_history: int  # history rows older than history_ttl_hours deleted after the write
    run_at: int
    duration_ms: int


def backfill_boundaries(until: int, minutes: int, interval_ms: int) -> list[int]:
    """The ceil(minutes / interval) boundaries ending with the latest one at or before `until`."""
    latest = align_down(until, interval_ms)
    count = max(1, math.ceil(minutes * MINUTE_MS / interval_ms))
    return [latest - i * interval_ms for i in range(count - 1, -1, -1)]


async def _store_history(
    conn: aiosqlite.Connection, snapshots: AsyncIterator[Snapshot], total: int, run_at: int,
    progress: ProgressCallback | None,
) -> tuple[int, Snapshot | None]:
    """Write every snapshot into the history, about BATCH_ROWS rows per transaction; (rows, latest)."""
    rows = done = pending = 0
    batch: list[Snapshot] = []
    latest = None
    async for latest in snapshots:
        batch.append(latest)
        pending += len(latest.rows)
        if pending >= BATCH_ROWS or done + len(batch) == total:
            rows += await write_history(conn, batch, source="backfill", run_at=run_at)
            done += len(batch)
            batch, pending = [], 0
            if progress is not None:
                progress(done, total)
    return rows, latest


async def backfill(
    settings: Settings,
    *,
    minutes: int,
    until: int | None = None,
    apply: bool = False,
    progress: ProgressCallback | None = None,
) -> BackfillResult:
    """Recompute and store every boundary of the `minutes` before `until` (default: now)."""
    run_at = now_ms()
    boundaries = backfill_boundaries(run_at if until is None else until, minutes, settings.interval_ms)
    path = settings.database.path
    with database_errors("read the app database", path):
        snapshots = await recompute_series(
            path, boundaries, settings.metrics.profiles.computed,
            extra_windows=settings.metrics.extra_windows, updated_at=run_at,
        )
    applied = None
    with database_errors("write the backfill to", path):
        conn = await connect_writer(path)
        try:
            await apply_migrations(conn)
            rows, latest = await _store_history(conn, snapshots, len(boundaries), run_at, progress)
            expired = await expire_history(conn, settings.metrics.history_ttl_hours, now=run_at)
            if apply and latest is not None:
                applied = await write_snapshot(
                    conn, latest.boundary, latest.rows, source="backfill", ttl_hours=settings.metrics.ttl_hours,
                    started_at=run_at, window_rows=latest.window_rows, profile_rows=latest.profile_rows,
                    profiles=part_profiles(settings.metrics.profiles.computed),
                )
        finally:
            await conn.close()
    topics = 0 if latest is None else len(latest.rows)
    result = BackfillResult(boundaries, rows, applied, topics, expired, run_at, now_ms() - run_at)
    log_event(
        log, "backfill.completed", boundaries=len(boundaries), history_rows=rows,
        expired_history=expired, applied=applied is not None, duration_ms=result.duration_ms,
    )
    return result


async def compare(settings: Settings, boundaries: list[int]) -> list[BoundaryComparison]:
    """The backfill's history against `topic_metrics` for these boundaries (ascending), from one
    read transaction, so a snapshot committed meanwhile is seen on neither side or in full."""
    path = settings.database.path
    with database_errors("read the app database", path):
        conn = await connect_reader(path, busy_timeout_ms=settings.database.busy_timeout_ms)
        try:
            async with transaction(conn, write=False):
                history = await history_rows(conn, boundaries[0], boundaries[-1], source="backfill")
                metrics = await metrics_rows(conn, boundaries[0], boundaries[-1])
        finally:
            await conn.close()
    return compare_history(history, metrics)
