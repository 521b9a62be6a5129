"""Find boundaries within the TTL that have no recorded run, and fill each one.

A gap is a boundary E with `now - ttl_hours < E <= latest boundary` and no `trending_runs` row:
the stream was down, or could not write. Every gap is recomputed from one read of the app
database (`reconcile.series`) and settled like any reconcile, each in its own transaction, so an
interrupted repair keeps the boundaries it already filled and the next run finds only the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from config.settings import Settings
from observability.logs import log_event
from reconcile import metrics
from reconcile.errors import ReconcileError, database_errors
from reconcile.progress import ProgressCallback
from reconcile.runner import Reconciler, ReconcileResult
from reconcile.series import recompute_series
from sinks.storage.reads import boundaries_without_run
from sinks.storage.snapshots import now_ms
from streams.windows import HOUR_MS, align_down

log = logging.getLogger("kukuri_trending.reconcile")


@dataclass(frozen=True, slots=True)
class GapsResult:
    ttl_boundaries: int  # boundaries within the TTL that were checked
    gaps: list[int]  # those without a run, ascending
    results: list[ReconcileResult]  # one per gap, in the same order


def boundaries_within_ttl(settings: Settings, now: int) -> list[int]:
    """Every boundary E with now - ttl < E <= now, ascending."""
    step = settings.interval_ms
    latest = align_down(now, step)
    oldest = align_down(now - settings.metrics.ttl_hours * HOUR_MS, step) + step
    return list(range(oldest, latest + 1, step))


async def fill_gaps(
    settings: Settings, *, dry_run: bool = False, now: int | None = None, progress: ProgressCallback | None = None
) -> GapsResult:
    """Recompute and write (unless `dry_run`) every boundary within the TTL without a run."""
    current = now_ms() if now is None else now
    path = settings.database.path
    candidates = boundaries_within_ttl(settings, current)
    results = []
    async with Reconciler(settings) as reconciler:
        try:
            with database_errors("read the app database", path):
                gaps = await boundaries_without_run(reconciler.reader, candidates)
                snapshots = await recompute_series(
                    path, gaps, settings.metrics.profiles.computed,
                    extra_windows=settings.metrics.extra_windows, updated_at=current,
                )
        except ReconcileError:
            metrics.FAILURES.inc()
            raise
        async for snapshot in snapshots:  # may raise ReconcileError: per-author inputs are read as it goes
            results.append(await reconciler.settle(snapshot, dry_run=dry_run, started=now_ms()))
            if progress is not None:
                progress(len(results), len(gaps))
    written = sum(r.run is not None for r in results)
    log_event(
        log, "reconcile.gaps_filled", logging.INFO if written else logging.DEBUG,
        boundaries_checked=len(candidates), gaps=len(gaps), written=written, dry_run=dry_run,
    )
    return GapsResult(len(candidates), gaps, results)
