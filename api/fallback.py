"""Live numbers when the committed metrics are missing or stale, or the snapshot job is disabled.

The same shared metric code as the stream (`appdb.recompute.recompute_snapshot`) recomputes the
snapshot for the current boundary from kukuri's tables, read-only. A recompute reads a day of
facts, so it runs once per boundary: concurrent requests share the one in flight (single-flight)
and later ones reuse its result until the next boundary. A failure is remembered for a short
while, so an unreadable app database is not hammered by every request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from api.ranking import LiveRanking
from appdb.recompute import recompute_snapshot
from streams.scoring import Scoring, computed_profiles


class FallbackFailed(Exception):
    """The app database could not be read, so no live numbers exist for this boundary."""


class LiveFallback:
    def __init__(
        self,
        app_db: Path,
        scoring: Scoring,
        *,
        retry_after_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_db = app_db
        self._scoring = scoring
        self._retry_after = retry_after_seconds
        self._monotonic = monotonic
        self._boundary: int | None = None
        self._task: asyncio.Task[LiveRanking] | None = None
        self._failed_at: float | None = None

    async def ranking(self, boundary: int) -> LiveRanking:
        """The live ranking for `boundary`, computing it at most once (per retry period on failure)."""
        if self._task is None or boundary != self._boundary or self._retry_due():
            self._start(boundary)
        task = self._task
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                raise FallbackFailed("the live recompute was stopped") from None
            raise
        except Exception as exc:
            raise FallbackFailed(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _retry_due(self) -> bool:
        return self._failed_at is not None and self._monotonic() - self._failed_at >= self._retry_after

    def _start(self, boundary: int) -> None:
        self._boundary = boundary
        self._failed_at = None
        self._task = asyncio.create_task(self._compute(boundary), name=f"trending-fallback-{boundary}")
        self._task.add_done_callback(self._finished)

    async def _compute(self, boundary: int) -> LiveRanking:
        snapshot = await recompute_snapshot(self._app_db, boundary, self._scoring)
        active = computed_profiles(self._scoring)[0]
        return LiveRanking(snapshot.boundary, snapshot.rows, snapshot.profile_rows, active.min_authors)

    def _finished(self, task: asyncio.Task[LiveRanking]) -> None:
        # Retrieving the exception also keeps asyncio from warning when no request awaits it any more.
        failed = task.cancelled() or task.exception() is not None
        if failed and task is self._task:
            self._failed_at = self._monotonic()
