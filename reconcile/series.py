"""Snapshots for many boundaries from one read of the app database (backfill and gap repair)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from appdb.recompute import read_pane_activity
from reconcile.panes import slide
from streams.metrics import Snapshot, build_snapshot
from streams.scoring import Scoring, computed_profiles, scoring_windows
from streams.windows import window_set


async def recompute_series(
    app_db: Path,
    boundaries: Sequence[int],
    scoring: Scoring,
    *,
    extra_windows: Mapping[str, int] | None = None,
    updated_at: int,
) -> Iterator[Snapshot]:
    """The snapshot of each boundary (ascending), equal to `recompute_snapshot` for each of them.

    The app database is read once, up front, in a single read transaction; the snapshots are then
    built lazily, one per iteration, so a caller can write and report progress as they come.
    """
    if not boundaries:
        return iter(())
    windows = (*window_set(extra_windows), *scoring_windows(computed_profiles(scoring)))
    start = boundaries[0] - max(w.span_ms for w in windows)
    activity = await read_pane_activity(app_db, start, boundaries[-1])

    def build() -> Iterator[Snapshot]:
        for boundary, counts in slide(activity, windows, boundaries):
            yield build_snapshot(
                boundary, counts, scoring, windows=windows, updated_at=updated_at
            )

    return build()
