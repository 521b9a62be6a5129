"""Compare the backfill's history with `topic_metrics`, boundary by boundary. Pure: no I/O, no clock.

For `backfill --compare`: after a backfill, which boundaries does the stream (or a reconcile) agree
with? Per boundary present on either side: the topics only the history has, the topics only
`topic_metrics` has, and for topics on both sides the columns that differ (with the same rules as
the reconciliation's diff: `updated_at` is never compared, scores within a relative 1e-9 are equal).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconcile.diff import diff_snapshot
from streams.metrics import TopicMetrics


@dataclass(frozen=True, slots=True)
class BoundaryComparison:
    boundary: int
    only_in_history: tuple[str, ...]  # topic ids, sorted
    only_in_metrics: tuple[str, ...]  # topic ids, sorted
    changed: Mapping[str, tuple[str, ...]]  # topic id -> differing columns, in table order

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
        diff = diff_snapshot(boundary, history.get(boundary, ()), metrics.get(boundary, ()))
        result.append(BoundaryComparison(
            boundary,
            only_in_history=tuple(d.topic_id for d in diff.rows if d.status == "missing"),
            only_in_metrics=tuple(d.topic_id for d in diff.rows if d.status == "extra"),
            changed={d.topic_id: tuple(c.column for c in d.changed) for d in diff.rows if d.status == "changed"},
        ))
    return result
