"""Recompute trending metrics from kukuri's own tables, the source of truth.

The reconciliation batch, the backfill and the read API's live fallback use this module to get the
numbers the stream should have produced. It only reads: every query runs on a `mode=ro` connection
as ONE statement, i.e. one short implicit read transaction that, in WAL mode, never blocks the
app's writers and sees one consistent state of the database. A boundary's windows are read by up
to a few such queries at once (`read_groups`; score-profile inputs by one more), so a write the app
commits while they run may be seen by some and not others: the numbers are then those of a state
a few milliseconds apart per window, and the next reconciliation sees the write everywhere.
Aggregation happens in SQL; what comes back is one row per topic (or, for a series of boundaries,
one row per topic, author and pane), never the facts themselves.

What a fact is comes from `appdb.facts`; how much each kind adds from
`streams.metrics.CONTRIBUTIONS`, turned into SQL; rows are built only by
`streams.metrics.build_snapshot`, so the batch cannot drift from the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from sqlite3 import Row
from typing import Final, NamedTuple

from appdb.facts import topic_facts_cte
from appdb.profile_inputs import read_profile_inputs
from sinks.database import connect_reader
from streams.metrics import (
    CONTRIBUTIONS,
    COUNT_FIELDS,
    SNAPSHOT_FIELDS,
    Snapshot,
    WindowCounts,
    build_snapshot,
)
from streams.scoring import Scoring, computed_profiles, needs_author_counts, scoring_windows
from streams.windows import PANE_MS, WindowSpec, window_set

_COUNTED: Final = ("posts", "replies", "boosts", "bookmarks")
_FLAGS: Final = ("authors", "participants")


def _amount(field: str) -> str:
    """SQL: what a fact of kind `f.kind` adds to `field` (a counted `Contribution` attribute)."""
    cases = " ".join(
        f"WHEN '{kind}' THEN {int(getattr(c, field))}" for kind, c in CONTRIBUTIONS.items() if getattr(c, field)
    )
    return f"(CASE f.kind {cases} ELSE 0 END)"


def _is(field: str) -> str:
    """SQL condition: a fact of kind `f.kind` counts its actor for `field` (`authors`, `participants`)."""
    return f"f.kind IN ({', '.join(repr(kind) for kind, c in CONTRIBUTIONS.items() if getattr(c, field))})"


def _count(field: str, inside: str) -> str:
    """SQL aggregate: one `WindowCounts` field over the facts satisfying `inside`."""
    if field in _COUNTED:
        return f"SUM(CASE WHEN {inside} THEN {_amount(field)} ELSE 0 END)"
    flag = "authors" if field == "unique_authors" else field
    return f"COUNT(DISTINCT CASE WHEN {inside} AND {_is(flag)} THEN f.author END)"


def read_groups(windows: Sequence[WindowSpec]) -> list[tuple[WindowSpec, ...]]:
    """The windows split into groups whose time ranges do not overlap, each in the given order.

    Each group is read by its own query over its own range, and the queries run at once on their
    own connections: with the default windows the 24 h and 6 h windows read the last day and the
    previous 24 h window the day before, so each query sorts half the facts and a second core
    reads the other half. Windows that overlap (a rising profile's baseline spans both days) share
    one query: a distinct count cannot be split between two.

    >>> [[w.name for w in group] for group in read_groups(window_set())]
    [['24h', '6h'], ['prev24h']]
    """
    groups: list[list[WindowSpec]] = []
    group_end = 0  # of the last group, relative to the boundary: [-span, -lag)
    for spec in sorted(windows, key=lambda w: w.span_ms, reverse=True):
        if groups and -spec.span_ms < group_end:
            groups[-1].append(spec)
            group_end = max(group_end, -spec.lag_ms)
        else:
            groups.append([spec])
            group_end = -spec.lag_ms
    order = {spec: i for i, spec in enumerate(windows)}
    return sorted((tuple(sorted(g, key=order.__getitem__)) for g in groups), key=lambda g: order[g[0]])


def _window_counts_sql(windows: Sequence[WindowSpec]) -> str:
    """One row per topic: for every window, the counts of `_fields(window)`, in that order.

    One GROUP BY over the topic (one sort of the facts) serves every window: each window's numbers
    are conditional aggregates over the window's time range. The facts read span [:lo, :hi), the
    union of the windows' ranges, so a window edge that is also an edge of the read needs no
    comparison.
    """
    reach = max(w.span_ms for w in windows)
    nearest = min(w.lag_ms for w in windows)
    columns = []
    for i, spec in enumerate(windows):
        edges = ([] if spec.span_ms == reach else [f"f.created_at >= :start{i}"]) + (
            [] if spec.lag_ms == nearest else [f"f.created_at < :end{i}"])
        inside = " AND ".join(edges) or "1"
        columns += [_count(field, inside) for field in _fields(spec)]
    return f"WITH {topic_facts_cte()}\nSELECT f.topic_id, {', '.join(columns)} FROM app_facts AS f GROUP BY f.topic_id"


def _fields(window: WindowSpec) -> tuple[str, ...]:
    return SNAPSHOT_FIELDS.get(window.name, COUNT_FIELDS)


def _count_readers(windows: Sequence[WindowSpec]) -> list[Callable[[Sequence[int]], tuple[int, ...]]]:
    """Per window, a function from a result row padded with a final 0 to that window's
    `WindowCounts` fields in order, 0 for the fields the query skipped."""
    readers: list[Callable[[Sequence[int]], tuple[int, ...]]] = []
    column = 1  # column 0 is the topic
    for spec in windows:
        names = _fields(spec)
        at = {name: column + i for i, name in enumerate(names)}
        readers.append(itemgetter(*(at.get(name, -1) for name in COUNT_FIELDS)))
        column += len(names)
    return readers


_PANE_ACTIVITY_SQL: Final = (
    f"WITH {topic_facts_cte()}\n"
    f"SELECT f.created_at - f.created_at % {PANE_MS} AS pane, f.topic_id, f.author,"
    f" {', '.join(f'SUM({_amount(field)})' for field in _COUNTED)},"
    f" {', '.join(f'MAX({_is(field)})' for field in _FLAGS)}\n"
    "  FROM app_facts AS f\n"
    " GROUP BY pane, f.topic_id, f.author ORDER BY pane"
)


class PaneActivity(NamedTuple):
    """One author's live facts in one topic and one 5-minute pane (see `read_pane_activity`)."""

    pane: int
    topic_id: str
    author: str
    posts: int
    replies: int
    boosts: int
    bookmarks: int
    authored: int  # 1 when the author counts towards unique_authors in this pane
    participated: int  # 1 when the author counts as a participant in this pane


async def recompute_snapshot(
    app_db: Path,
    boundary: int,
    scoring: Scoring,
    *,
    extra_windows: Mapping[str, int] | None = None,
    updated_at: int | None = None,
) -> Snapshot:
    """The snapshot for boundary E as the stream would compute it from the app's current facts.

    Raises `sqlite3.Error` when the app database cannot be read (missing file, not kukuri's schema).
    """
    windows = (*window_set(extra_windows), *scoring_windows(computed_profiles(scoring)))
    groups = read_groups(windows)
    results = await asyncio.gather(*(_read_window_counts(app_db, boundary, group) for group in groups))
    counts: dict[str, dict[str, WindowCounts]] = {spec.name: {} for spec in windows}
    for group, result in zip(groups, results, strict=True):
        readers = [(counts[spec.name], reader) for spec, reader in zip(group, _count_readers(group), strict=True)]
        for row in result:
            padded = (*row, 0)
            for by_topic, reader in readers:
                values = reader(padded)
                if any(values):  # a window without a live fact of the topic has no entry
                    by_topic[row[0]] = WindowCounts(*values)
    stamp = int(time.time() * 1000) if updated_at is None else updated_at
    per_author = [p for p in computed_profiles(scoring) if needs_author_counts(p)]
    inputs = await read_profile_inputs(app_db, boundary, per_author) if per_author else None
    return build_snapshot(boundary, counts, scoring, windows=windows, updated_at=stamp, author_inputs=inputs)


async def _read_window_counts(app_db: Path, boundary: int, windows: Sequence[WindowSpec]) -> list[Row]:
    """The rows of `_window_counts_sql(windows)` for `boundary`, read on a connection of their own."""
    params: dict[str, object] = {
        "lo": boundary - max(w.span_ms for w in windows), "hi": boundary - min(w.lag_ms for w in windows),
    }
    for i, spec in enumerate(windows):
        params[f"start{i}"], params[f"end{i}"] = spec.bounds(boundary)
    conn = await connect_reader(app_db, bulk=True)
    try:
        async with conn.execute(_window_counts_sql(windows), params) as cursor:
            return list(await cursor.fetchall())
    finally:
        await conn.close()


async def read_pane_activity(app_db: Path, start: int, end: int) -> list[PaneActivity]:
    """Live facts with created_at in [start, end), summed per (pane, topic, author), ordered by pane.

    Distinct counts do not add up over panes, so a series of boundaries needs who was active in
    each pane, not just how many: `reconcile.panes` slides every window over these rows.
    """
    conn = await connect_reader(app_db, bulk=True)
    try:
        async with conn.execute(_PANE_ACTIVITY_SQL, {"lo": start, "hi": end}) as cursor:
            return [PaneActivity._make(row) for row in await cursor.fetchall()]
    finally:
        await conn.close()
