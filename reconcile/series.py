"""Snapshots for many boundaries from one read of the app database (backfill and gap repair)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from appdb.profile_inputs import read_profile_inputs
from appdb.recompute import read_pane_activity
from reconcile.errors import database_errors
from reconcile.panes import slide
from streams.metrics import Snapshot, build_snapshot
from streams.scoring import Scoring, computed_profiles, needs_author_counts, scoring_windows
from streams.windows import window_set


async def recompute_series(
    app_db: Path,
    boundaries: Sequence[int],
    scoring: Scoring,
    *,
    extra_windows: Mapping[str, int] | None = None,
    updated_at: int,
) -> AsyncIterator[Snapshot]:
    """The snapshot of each boundary (ascending), equal to `recompute_snapshot` for each of them.

    The window counts of every boundary come from one read of the app database, up front; the
    snapshots are built as they are iterated, so a caller can write and report progress as they
    come. Profiles that need per-author counts (an author cap, or self-boosts left out) read those
    per boundary, as each snapshot is built. Raises `sqlite3.Error` when the up-front read fails,
    `ReconcileError` when a later one does.
    """
    profiles = computed_profiles(scoring)
    per_author = [p for p in profiles if needs_author_counts(p)]
    windows = (*window_set(extra_windows), *scoring_windows(profiles))
    activity = []
    if boundaries:
        activity = await read_pane_activity(app_db, boundaries[0] - max(w.span_ms for w in windows), boundaries[-1])

    async def build() -> AsyncIterator[Snapshot]:
        for boundary, counts in slide(activity, windows, boundaries):
            inputs = None
            if per_author:
                with database_errors("read the app database", app_db):
                    inputs = await read_profile_inputs(app_db, boundary, per_author)
            yield build_snapshot(
                boundary, counts, scoring, windows=windows, updated_at=updated_at, author_inputs=inputs
            )

    return build()
