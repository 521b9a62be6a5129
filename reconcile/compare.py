"""Compare the backfill's history with `topic_metrics`, boundary by boundary. Pure: no I/O, no clock.

For `backfill --compare`: after a backfill, which boundaries does the stream (or a reconcile) agree
with? Per boundary present on either side: the topics only the history has, the topics only
`topic_metrics` has, and for topics on both sides the columns that differ (with the same rules as
the reconciliation's diff: `updated_at` is never compared, scores within a relative 1e-9 are equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile.diff import diff_snapshot
from streams.metrics import TopicMetrics


@dataclass(frozen=True, slots=True)
class ChangedColumn:
    column: str
    history: Any
    metrics: Any


@dataclass(frozen=True, slots=True)
class BoundaryComparison:
    boundary: int
    history_topics: int  # rows the history holds for the boundary
    metrics_topics: int  # rows topic_metrics holds for the boundary
    only_in_history: tuple[str, ...]  # topic ids, sorted
    only_in_metrics: tuple[str, ...]  # topic ids, sorted
    changed: Mapping[str, tuple[ChangedColumn, ...]]  # topic id -> differing columns, in table order

    @property
    def agrees(self) -> bool:
        return not (self.only_in_history or self.only_in_metrics or self.changed)


def compare_history(
    history: Mapping[int, Sequence[TopicMetrics]], metrics: Mapping[int, Sequence[TopicMetrics]]
) -> list[BoundaryComparison]:
    """One comparison per boundary of either side, ascending; a boundary one side lacks has all of
    the other side's topics "only in" that side."""
    result = []
    for boundary in sorted(set(history) | set(metrics)):
        mine, theirs = history.get(boundary, ()), metrics.get(boundary, ())
        # The history plays the recomputed side of the diff, topic_metrics the stored one.
        diff = diff_snapshot(boundary, mine, theirs)
        result.append(BoundaryComparison(
            boundary,
            history_topics=len(mine),
            metrics_topics=len(theirs),
            only_in_history=tuple(d.topic_id for d in diff.rows if d.status == "missing"),
            only_in_metrics=tuple(d.topic_id for d in diff.rows if d.status == "extra"),
            changed={
                d.topic_id: tuple(ChangedColumn(c.column, c.recomputed, c.stored) for c in d.changed)
                for d in diff.rows if d.status == "changed"
            },
        ))
    return result


def comparison_to_json(comparison: BoundaryComparison) -> dict[str, Any]:
    """One boundary for `backfill --compare --json`; changed cells as `{"history": .., "topic_metrics": ..}`."""
    return {
        "window_end": comparison.boundary,
        "agrees": comparison.agrees,
        "history_topics": comparison.history_topics,
        "metrics_topics": comparison.metrics_topics,
        "only_in_history": list(comparison.only_in_history),
        "only_in_metrics": list(comparison.only_in_metrics),
        "changed": {
            topic: {c.column: {"history": c.history, "topic_metrics": c.metrics} for c in columns}
            for topic, columns in comparison.changed.items()
        },
    }


def format_comparison(comparison: BoundaryComparison) -> list[str]:
    """One line per differing topic: `only in history`, `only in topic_metrics`, or `changed` with
    `column history -> topic_metrics` for each differing column."""
    lines = [f"  only in history          {topic}" for topic in comparison.only_in_history]
    lines += [f"  only in topic_metrics    {topic}" for topic in comparison.only_in_metrics]
    for topic, columns in comparison.changed.items():
        cells = ", ".join(f"{c.column} {_value(c.history)} -> {_value(c.metrics)}" for c in columns)
        lines.append(f"  changed                  {topic}  {cells}")
    return lines


def _value(v: Any) -> str:
    return repr(v) if isinstance(v, float) else str(v)
