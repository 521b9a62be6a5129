"""Compare a recomputed snapshot with the stored one, cell by cell. Pure: no I/O, no clock.

Rows are matched by topic (and, for the extra windows, by window and topic). `updated_at` is the
wall-clock time of a write and is never compared. Scores are compared with a relative tolerance of
1e-9: a row written by another implementation of the same formula (kukuri's Rust job) may differ
in the last bits, which is not drift worth a repair.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeVar

from streams.metrics import TopicMetrics, WindowMetrics

Status = Literal["missing", "extra", "changed"]
Row = TypeVar("Row", TopicMetrics, WindowMetrics)

# Columns that identify a row, or are not a metric, and so are never reported as a difference.
_TOPIC_KEY = ("topic_id",)
_WINDOW_KEY = ("topic_id", "window", "window_end")
_IGNORED = ("updated_at",)


@dataclass(frozen=True, slots=True)
class CellDiff:
    column: str
    stored: Any  # None when the row is missing from the store
    recomputed: Any  # None when the stored row should not exist


@dataclass(frozen=True, slots=True)
class RowDiff:
    status: Status
    topic_id: str
    window: str | None  # None for a topic_metrics row, else the extra window's name
    changed: tuple[CellDiff, ...]  # the differing cells of a "changed" row
    row: Any = None  # the whole row of a "missing" or "extra" one (its cells are built on demand)
    columns: tuple[str, ...] = ()  # the compared columns of that row

    @property
    def cells(self) -> tuple[CellDiff, ...]:
        """Every cell this row changes: for a missing or extra row, each of its compared columns.

        Built on demand: a gap repair has hundreds of boundaries of entirely missing rows, and
        millions of cell objects nobody reads would dominate its time and memory.
        """
        if self.status == "missing":
            return tuple(CellDiff(c, None, getattr(self.row, c)) for c in self.columns)
        if self.status == "extra":
            return tuple(CellDiff(c, getattr(self.row, c), None) for c in self.columns)
        return self.changed

    @property
    def cell_count(self) -> int:
        return len(self.changed) if self.status == "changed" else len(self.columns)


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    boundary: int
    recomputed: int  # topics in the recomputed snapshot
    stored: int  # topics stored for the boundary
    rows: tuple[RowDiff, ...]  # topic_metrics, by topic
    window_rows: tuple[RowDiff, ...]  # topic_window_metrics, by window then topic

    @property
    def clean(self) -> bool:
        return not self.rows and not self.window_rows

    @property
    def topics_affected(self) -> int:
        return len({d.topic_id for d in (*self.rows, *self.window_rows)})

    @property
    def cells_changed(self) -> int:
        return sum(d.cell_count for d in (*self.rows, *self.window_rows))

    def count(self, status: Status) -> int:
        return sum(d.status == status for d in self.rows)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and (isinstance(a, float) or isinstance(b, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and bool(a == b)


def _compared(row_type: type, key: Sequence[str]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(row_type) if f.name not in key and f.name not in _IGNORED)


def _diff_rows(
    recomputed: Iterable[Row], stored: Iterable[Row], key: Callable[[Row], tuple[str, ...]],
    columns: tuple[str, ...], window: Callable[[Row], str | None],
) -> tuple[RowDiff, ...]:
    def whole(status: Status, row: Row) -> RowDiff:
        return RowDiff(status, row.topic_id, window(row), (), row, columns)

    expected = {key(r): r for r in recomputed}
    found: dict[tuple[str, ...], Row] = {}
    diffs: list[tuple[tuple[str, ...], RowDiff]] = []
    for row in stored:
        if key(row) in found:  # only possible with hand-written rows; the first one is compared
            diffs.append((key(row), whole("extra", row)))
        found.setdefault(key(row), row)
    for k, row in found.items():
        want = expected.get(k)
        if want is None:
            diffs.append((k, whole("extra", row)))
            continue
        cells = tuple(
            CellDiff(c, getattr(row, c), getattr(want, c))
            for c in columns if not _same(getattr(row, c), getattr(want, c))
        )
        if cells:
            diffs.append((k, RowDiff("changed", row.topic_id, window(row), cells)))
    diffs.extend((k, whole("missing", want)) for k, want in expected.items() if k not in found)
    diffs.sort(key=lambda pair: pair[0])
    return tuple(d for _, d in diffs)


def diff_snapshot(
    boundary: int,
    recomputed: Sequence[TopicMetrics],
    stored: Sequence[TopicMetrics],
    recomputed_windows: Sequence[WindowMetrics] = (),
    stored_windows: Sequence[WindowMetrics] = (),
) -> SnapshotDiff:
    """What writing `recomputed` over `stored` would change, row by row and cell by cell."""
    rows = _diff_rows(
        recomputed, stored, lambda r: (r.topic_id,), _compared(TopicMetrics, _TOPIC_KEY), lambda r: None
    )
    windows = _diff_rows(
        recomputed_windows, stored_windows, lambda w: (w.window, w.topic_id),
        _compared(WindowMetrics, _WINDOW_KEY), lambda w: w.window,
    )
    return SnapshotDiff(boundary, len(recomputed), len({r.topic_id for r in stored}), rows, windows)


def _value(v: Any) -> str:
    return "-" if v is None else repr(v) if isinstance(v, float) else str(v)


def _summary(d: RowDiff) -> str:
    if d.status == "changed":
        return ", ".join(f"{c.column} {_value(c.stored)} -> {_value(c.recomputed)}" for c in d.cells)
    shown = ("posts_24h", "unique_authors", "boosts", "score_24h") if d.window is None else ("posts", "score")
    return " ".join(f"{c}={_value(getattr(d.row, c))}" for c in shown)


def format_diff(diff: SnapshotDiff) -> list[str]:
    """One line per differing row: `missing|extra|changed  <topic>[ @<window>]  <details>`."""
    lines = []
    for d in (*diff.rows, *diff.window_rows):
        label = d.topic_id if d.window is None else f"{d.topic_id} @{d.window}"
        lines.append(f"  {d.status:<8} {label}  {_summary(d)}")
    return lines


def diff_to_json(diff: SnapshotDiff, *, rows: bool = True) -> dict[str, Any]:
    """The counts, and with `rows` every differing row with its cells (`{"stored": .., "recomputed": ..}`)."""

    def row(d: RowDiff) -> dict[str, Any]:
        body: dict[str, Any] = {"status": d.status, "topic_id": d.topic_id}
        if d.window is not None:
            body["window"] = d.window
        body["columns"] = {c.column: {"stored": c.stored, "recomputed": c.recomputed} for c in d.cells}
        return body

    return {
        "clean": diff.clean,
        "topics_recomputed": diff.recomputed,
        "topics_stored": diff.stored,
        "missing": diff.count("missing"),
        "extra": diff.count("extra"),
        "changed": diff.count("changed"),
        "topics_affected": diff.topics_affected,
        "cells_changed": diff.cells_changed,
        **({"rows": [row(d) for d in diff.rows], "window_rows": [row(d) for d in diff.window_rows]} if rows else {}),
    }
