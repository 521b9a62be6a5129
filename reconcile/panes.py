"""Slide every window over per-pane activity to get the counts of many boundaries cheaply.

Recomputing each boundary of a backfill in SQL reads the same 48 hours of facts again and again
(288 boundaries = 288 scans). Instead the facts are read once, summed per (pane, topic, author), and
each window moves from one boundary to the next by adding the panes that enter it and removing the
panes that leave it. Sums are additive over panes; distinct counts are not, so each window keeps,
per topic and author, in how many of its panes the author was active: an author counts while that
number is above zero. Pure: no I/O, so it is tested against the SQL recompute directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sinks.app_metrics import PaneActivity
from streams.metrics import WindowCounts
from streams.windows import PANE_MS, WindowSpec


@dataclass(slots=True)
class _TopicWindow:
    posts: int = 0
    replies: int = 0
    boosts: int = 0
    bookmarks: int = 0
    authors: dict[str, int] = field(default_factory=dict)  # author -> panes in which they authored
    participants: dict[str, int] = field(default_factory=dict)  # author -> panes in which they took part
    # Most topics see no pane enter or leave between two boundaries: keep their counts.
    cached: WindowCounts | None = None

    def apply(self, row: PaneActivity, sign: int) -> None:
        self.cached = None
        self.posts += sign * row.posts
        self.replies += sign * row.replies
        self.boosts += sign * row.boosts
        self.bookmarks += sign * row.bookmarks
        if row.authored:
            _count(self.authors, row.author, sign)
        if row.participated:
            _count(self.participants, row.author, sign)

    @property
    def idle(self) -> bool:
        return not (self.posts or self.replies or self.boosts or self.bookmarks or self.participants)

    def counts(self) -> WindowCounts:
        if self.cached is None:
            self.cached = WindowCounts(
                self.posts, self.replies, self.boosts, self.bookmarks, len(self.authors), len(self.participants)
            )
        return self.cached


def _count(panes: dict[str, int], author: str, sign: int) -> None:
    left = panes.get(author, 0) + sign
    if left:
        panes[author] = left
    else:
        del panes[author]


class _SlidingWindow:
    """One window's per-topic state for the panes `[start, end)` it currently covers."""

    def __init__(self, spec: WindowSpec) -> None:
        self.spec = spec
        self.start = self.end = 0
        self.topics: dict[str, _TopicWindow] = {}

    def move_to(self, boundary: int, by_pane: dict[int, list[PaneActivity]]) -> None:
        start, end = self.spec.bounds(boundary)
        # Panes in [start, self.end) stay; with no overlap this empties the window and refills it.
        self._shift(by_pane, max(self.end, start), end, +1)
        self._shift(by_pane, self.start, min(start, self.end), -1)
        self.start, self.end = start, end

    def _shift(self, by_pane: dict[int, list[PaneActivity]], lo: int, hi: int, sign: int) -> None:
        for pane in range(lo, hi, PANE_MS):
            for row in by_pane.get(pane, ()):
                topic = self.topics.get(row.topic_id)
                if topic is None:
                    topic = self.topics[row.topic_id] = _TopicWindow()
                topic.apply(row, sign)
                if topic.idle:
                    del self.topics[row.topic_id]

    def counts(self) -> dict[str, WindowCounts]:
        return {topic: state.counts() for topic, state in self.topics.items()}


def slide(
    activity: Iterable[PaneActivity], windows: Sequence[WindowSpec], boundaries: Sequence[int]
) -> Iterator[tuple[int, dict[str, dict[str, WindowCounts]]]]:
    """For each boundary (ascending, multiples of the pane), the counts per window and topic.

    `activity` must cover every pane of every window of every boundary; panes outside them are ignored.
    """
    if any(b % PANE_MS for b in boundaries) or list(boundaries) != sorted(set(boundaries)):
        raise ValueError("boundaries must be distinct, ascending multiples of the 5-minute pane")
    by_pane: dict[int, list[PaneActivity]] = defaultdict(list)
    for row in activity:
        by_pane[row.pane].append(row)
    sliding = [_SlidingWindow(spec) for spec in windows]
    for boundary in boundaries:
        for window in sliding:
            window.move_to(boundary, by_pane)
        yield boundary, {w.spec.name: w.counts() for w in sliding}
