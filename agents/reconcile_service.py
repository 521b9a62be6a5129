"""The worker's scheduled reconciliation: every `reconcile_interval_minutes`, shortly after a
boundary, compare the latest snapshot with the app database and repair it.

When the stream's snapshot was wrong, the facts it missed are also folded into the stream's own
state from the app database (identity dedupe skips everything it already has), so the next
snapshots are right too instead of repeating the same gap. That fold takes the worker's state
lock, the one batches, restores and rebalances hold, so it never interleaves with a batch or
touches a partition that is changing hands; it is checkpointed before the lock is released. Only
the worker that owns partition 0 runs it, so several workers do not repeat the work.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import mode

from appdb.loader import load_partition_from_app_db
from config.settings import Settings
from observability.logs import log_event
from reconcile.errors import ReconcileError
from reconcile.runner import reconcile_latest
from streams.stream_state import StreamState
from streams.windows import MINUTE_MS, align_down

log = logging.getLogger("kukuri_trending.reconcile")

# Give the stream's own snapshot for the boundary time to commit before checking it.
DELAY_AFTER_BOUNDARY_MS = 60_000


class ReconcileService(mode.Service):
    def __init__(self, settings: Settings, state: StreamState, assigned: Callable[[], list[int]],
                 state_lock: asyncio.Lock | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.settings = settings
        self.stream_state = state
        self.assigned = assigned
        self.state_lock = state_lock or asyncio.Lock()  # the worker passes the ingest's lock

    @mode.Service.task
    async def _schedule(self) -> None:
        minutes = self.settings.metrics.reconcile_interval_minutes
        if minutes == 0 or not self.settings.metrics.enabled:
            return
        period = minutes * MINUTE_MS
        while not self.should_stop:
            now = int(time.time() * 1000)
            due = align_down(now, period) + DELAY_AFTER_BOUNDARY_MS
            if due <= now:
                due += period
            await self.sleep((due - now) / 1000)
            if self.should_stop or 0 not in self.assigned():
                continue
            await self.reconcile()

    async def reconcile(self) -> None:
        try:
            await self._reconcile()
        except (ReconcileError, sqlite3.Error, OSError) as exc:
            # The next scheduled run tries again; a failed check must not stop the stream.
            log_event(log, "trending_reconcile.failed", level=logging.ERROR, error=repr(exc))

    async def _reconcile(self) -> None:
        result = await reconcile_latest(self.settings)
        diff = result.diff
        log_event(log, "trending_reconcile.completed", window_end=result.boundary, clean=diff.clean,
                  repaired=result.repaired, duration_ms=result.duration_ms)
        if not diff.clean and self.settings.stream.bootstrap_from_app_db:
            added = await self.repair_stream_state()
            log_event(log, "trending_reconcile.stream_state_repaired", facts_added=added)

    async def repair_stream_state(self) -> int:
        """Fold the app database's facts into every held partition; returns how many counted."""
        added = 0
        async with self.state_lock:
            for partition in list(self.stream_state.partitions.values()):
                added += await load_partition_from_app_db(self.settings, partition)
            self.stream_state.checkpoint({})
        return added
