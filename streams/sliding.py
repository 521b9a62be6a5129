"""Running window tallies over 5-minute panes: the one implementation of "slide the windows".

Per pane and topic a `Tally` holds the counters and, per author, a reference count; per window
and topic a running `Tally` holds the sum of the panes inside the window for the current boundary
(`head`). Moving the boundary subtracts the panes that leave each window and adds those that enter,
so each pane enters and leaves every window once. The stream folds single facts into it; the
backfill loads per-(pane, topic, author) sums read from the app database and slides over many
boundaries. Distinct authors stay exact because authors are reference-counted, not summed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streams.metrics import CONTRIBUTIONS, WindowCounts
from streams.scoring import ScoreInputs
from streams.windows import PANE_MS, WindowSpec

# CONTRIBUTIONS as plain tuples (posts, replies, boosts, bookmarks, authored, participated): the
# ingest path reads one per tally it touches, several per event.
_CONTRIBUTION_TUPLES: Final[dict[str, tuple[int, int, int, int, bool, bool]]] = {
    kind: (c.posts, c.replies, c.boosts, c.bookmarks, c.authors, c.participants) for kind, c in CONTRIBUTIONS.items()
}


class Tally:
    """Live facts of one topic in one pane or window: counters plus author reference counts.

    `authors` counts each author's live posts and replies, which is also what a score profile's
    author cap reads of posts. When some computed profile caps authors or leaves self-boosts out,
    `boosters` and `self_boosters` count each booster's live boosts and self-boosts (`add_boost`);
    otherwise they stay None and cost nothing.
    """

    __slots__ = (
        "_counts", "authors", "bookmarks", "boosters", "boosts", "participants", "posts", "replies", "self_boosters",
    )

    def __init__(
        self, posts: int = 0, replies: int = 0, boosts: int = 0, bookmarks: int = 0,
        authors: dict[str, int] | None = None, participants: dict[str, int] | None = None,
    ) -> None:
        """An empty tally, or (as the ingest path creates them) one holding its first fact."""
        self.posts = posts
        self.replies = replies
        self.boosts = boosts
        self.bookmarks = bookmarks
        self.authors: dict[str, int] = {} if authors is None else authors
        self.participants: dict[str, int] = {} if participants is None else participants
        self.boosters: dict[str, int] | None = None
        self.self_boosters: dict[str, int] | None = None
        self._counts: WindowCounts | None = None

    def add(self, posts: int, replies: int, boosts: int, bookmarks: int, author: str,
            authored: bool | int, participated: bool | int, sign: int) -> None:
        """Add (sign 1) or remove (sign -1) one author's contribution."""
        self._counts = None
        self.posts += sign * posts
        self.replies += sign * replies
        self.boosts += sign * boosts
        self.bookmarks += sign * bookmarks
        if authored:
            _bump(self.authors, author, sign)
        if participated:
            _bump(self.participants, author, sign)

    def merge(self, other: Tally, sign: int) -> None:
        self._counts = None
        self.posts += sign * other.posts
        self.replies += sign * other.replies
        self.boosts += sign * other.boosts
        self.bookmarks += sign * other.bookmarks
        for author, n in other.authors.items():
            _bump(self.authors, author, sign * n)
        for author, n in other.participants.items():
            _bump(self.participants, author, sign * n)
        if other.boosters:
            boosters = self.boosters if self.boosters is not None else self._new_boosters()
            for author, n in other.boosters.items():
                _bump(boosters, author, sign * n)
        if other.self_boosters:
            own = self.self_boosters if self.self_boosters is not None else self._new_self_boosters()
            for author, n in other.self_boosters.items():
                _bump(own, author, sign * n)

    def add_boost(self, author: str, boosts: int, self_boosts: int) -> None:
        """Change one booster's live boosts by `boosts` and self-boosts by `self_boosts`."""
        if boosts:
            _bump(self.boosters if self.boosters is not None else self._new_boosters(), author, boosts)
        if self_boosts:
            own = self.self_boosters if self.self_boosters is not None else self._new_self_boosters()
            _bump(own, author, self_boosts)

    def add_author(self, author: str, posts: int, boosts: int, self_boosts: int) -> None:
        """Add one author's live posts (replies included), boosts and self-boosts at once: the
        reconciliation reads these sums per topic and author with SQL, and fills only what `inputs`
        reads (not bookmarks or participants)."""
        self._counts = None
        if posts:
            self.posts += posts
            _bump(self.authors, author, posts)
        if boosts:
            self.boosts += boosts
            self.add_boost(author, boosts, self_boosts)

    def _new_boosters(self) -> dict[str, int]:
        self.boosters = {}
        return self.boosters

    def _new_self_boosters(self) -> dict[str, int]:
        self.self_boosters = {}
        return self.self_boosters

    @property
    def empty(self) -> bool:
        return not self.participants

    def compact(self) -> None:
        """Rebuild the author maps at the size their live authors need (see `COMPACT_EVERY`)."""
        self.authors = dict(self.authors)
        self.participants = dict(self.participants)
        if self.boosters:
            self.boosters = dict(self.boosters)
        if self.self_boosters:
            self.self_boosters = dict(self.self_boosters)

    def inputs(self, cap: int | None, count_self_boosts: bool) -> ScoreInputs:
        """What a score profile reads of this window (`streams.scoring.Need`): posts and replies and
        boosts summed per author after `cap` (None: no cap), self-boosts left out unless counted, and
        the distinct authors of posts and replies. O(authors) with a cap, which only a snapshot pays.

        Per-booster counts exist only when the state keeps them (`add_boost`); without them only the
        uncapped inputs that count self-boosts can be read.
        """
        authors = self.authors
        boosters = self.boosters
        if boosters is None and self.boosts and (cap is not None or not count_self_boosts):
            raise ValueError("per-author boosts are not kept by this window state")
        own = None if count_self_boosts else self.self_boosters
        if cap is None:
            posts = self.posts
            boosts = self.boosts - (sum(own.values()) if own else 0)
        else:
            posts = sum(n if n < cap else cap for n in authors.values())
            if own:
                boosts = sum(min(n - own.get(author, 0), cap) for author, n in (boosters or {}).items())
            else:
                boosts = sum(n if n < cap else cap for n in (boosters or {}).values())
        return ScoreInputs(posts, boosts, len(authors))

    def counts(self) -> WindowCounts:
        """The window's numbers; cached until the tally changes (a backfill reads idle topics often)."""
        if self._counts is None:
            self._counts = WindowCounts(
                self.posts, self.replies, self.boosts, self.bookmarks, len(self.authors), len(self.participants)
            )
        return self._counts


def _bump(refs: dict[str, int], author: str, delta: int) -> None:
    n = refs.get(author, 0) + delta
    if n:
        refs[author] = n
    else:
        del refs[author]


def _count(
    holders: list[dict[str, Tally]], topic: str, contribution: tuple[int, int, int, int, bool, bool], author: str
) -> None:
    """Count one fact of a kind that counts in the topic's tally of each of `holders`: the hot path
    of ingest, so the updates are written out, and a tally it creates is built holding the fact."""
    posts, replies, boosts, bookmarks, authored, _ = contribution
    for by_topic in holders:
        tally = by_topic.get(topic)
        if tally is None:
            by_topic[topic] = Tally(posts, replies, boosts, bookmarks, {author: 1} if authored else None, {author: 1})
            continue
        tally._counts = None
        if posts:
            tally.posts += 1
        if replies:
            tally.replies += 1
        if boosts:
            tally.boosts += 1
        if bookmarks:
            tally.bookmarks += 1
        if authored:
            refs = tally.authors
            refs[author] = refs.get(author, 0) + 1
        refs = tally.participants
        refs[author] = refs.get(author, 0) + 1


def _add(
    holders: list[dict[str, Tally]], topic: str, contribution: tuple[int, int, int, int, bool, bool], author: str,
    sign: int,
) -> None:
    """Add (sign 1) or remove (sign -1) one fact in the topic's tally of each of `holders`, dropping
    tallies left without facts."""
    posts, replies, boosts, bookmarks, authored, participated = contribution
    for by_topic in holders:
        tally = by_topic.get(topic)
        if tally is None:
            tally = by_topic[topic] = Tally()
        tally.add(posts, replies, boosts, bookmarks, author, authored, participated, sign)
        if not tally.participants:
            del by_topic[topic]


# A dict never shrinks when keys are deleted, and when inserting into one whose deleted slots are
# used up CPython resizes it to fit three times its live keys: under churn (authors entering and
# leaving a window) a running tally's author maps settle at about twice the size a fresh copy
# needs, and those of a day-long window take days to get there. Measured at 100,000 topics, that
# was 4 MB more memory every hour from the second day to the third. Rebuilding every running
# tally's maps once per this many boundaries (6 hours), a share of the topics at each boundary,
# keeps the size of each map a function of the last 6 hours, not of the worker's age.
COMPACT_EVERY: Final = 72


# One fact folded into a pane whose tallies are not built yet: (topic, kind, author, 1 or -1), or a
# change of one booster's boosts: (topic, None, author, (boosts, self_boosts)).
PaneEntry = tuple[str, str | None, str, Any]


class SlidingWindows:
    """Pane tallies plus one running tally per window and topic, for the boundary `head`.

    A pane's own tallies are only read when the pane enters or leaves a window, or for a boundary
    other than the head. Until then the pane keeps a log of what was folded into it, and its
    tallies are built from the log when first read: folding an event updates the running tallies
    of its windows and appends to a list, instead of creating a tally per topic and pane (most
    pairs of a topic and a pane hold one fact). Building a pane costs what updating its tallies
    event by event did, but once per pane, when it slides: at the next boundary for the pane being
    filled, later for the panes of a backlog.
    """

    def __init__(self, windows: tuple[WindowSpec, ...], head: int) -> None:
        self.windows = windows
        # Panes whose tallies are built, and the logs of those whose tallies are not (never both).
        self.panes: dict[int, dict[str, Tally]] = {}
        self._pane_logs: dict[int, list[PaneEntry]] = {}
        self.tallies: dict[str, dict[str, Tally]] = {w.name: {} for w in windows}
        # The running tallies' topics as of the start of a compaction round, and the round's step.
        self._compacting: list[tuple[dict[str, Tally], list[str]]] = []
        self._compact_step = 0
        self._set_head(head)

    def _set_head(self, head: int) -> None:
        self.head = head
        # Each window's running tallies with its bounds for `head`.
        self._spans = [(self.tallies[w.name], *w.bounds(head)) for w in self.windows]
        self._slots: dict[int, tuple[list[dict[str, Tally]], list[PaneEntry] | None]] = {}

    @property
    def span_ms(self) -> int:
        return max(w.span_ms for w in self.windows)

    def pane_tally(self, pane: int, topic: str) -> Tally:
        """The tally of one topic in one pane, created empty if needed (for bulk loading before `advance`)."""
        by_topic = self._built(pane)
        if by_topic is None:
            by_topic = self.panes[pane] = {}
            self._slots.pop(pane, None)
        tally = by_topic.get(topic)
        if tally is None:
            tally = by_topic[topic] = Tally()
        return tally

    def _slot(self, pane: int) -> tuple[list[dict[str, Tally]], list[PaneEntry] | None]:
        """Where a fact of `pane` goes: the tallies by topic of every window holding the pane at
        `head`, preceded by the pane's own when they are built, and otherwise the pane's log.
        Cached per pane until the head moves or the pane changes form: the ingest path asks once
        per event."""
        slot = self._slots.get(pane)
        if slot is None:
            windows = [by_topic for by_topic, start, end in self._spans if start <= pane < end]
            built = self.panes.get(pane)
            if built is not None:
                slot = ([built, *windows], None)
            else:
                log = self._pane_logs.get(pane)
                if log is None:
                    log = self._pane_logs[pane] = []
                slot = (windows, log)
            self._slots[pane] = slot
        return slot

    def _built(self, pane: int) -> dict[str, Tally] | None:
        """The pane's tallies by topic (None: nothing was folded into it), built from its log first
        if it has one."""
        log = self._pane_logs.pop(pane, None)
        if log is None:
            return self.panes.get(pane)
        self._slots.pop(pane, None)
        by_topic: dict[str, Tally] = {}
        holder = [by_topic]
        for topic, kind, author, n in log:
            if kind is None:
                by_topic[topic].add_boost(author, *n)
            elif n == 1:
                _count(holder, topic, _CONTRIBUTION_TUPLES[kind], author)
            else:
                _add(holder, topic, _CONTRIBUTION_TUPLES[kind], author, n)
        if not by_topic:
            return None
        self.panes[pane] = by_topic
        return by_topic

    def count_fact(self, topic: str, kind: str, author: str, created_at: int) -> None:
        """Count one fact of a kind that counts (not a delete) in its pane and in every window
        holding it: `add_fact(..., 1)` for the hot path of ingest, once per event."""
        contribution = _CONTRIBUTION_TUPLES[kind]
        pane = created_at - created_at % PANE_MS
        slot = self._slots.get(pane)
        if slot is None:
            slot = self._slot(pane)
        holders, log = slot
        if log is not None:
            log.append((topic, kind, author, 1))
        _count(holders, topic, contribution, author)

    def add_fact(self, topic: str, kind: str, author: str, created_at: int, sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one fact in its pane and in every window holding it.
        A delete counts nowhere itself."""
        if kind == "delete":
            return
        if sign == 1:
            self.count_fact(topic, kind, author, created_at)
            return
        contribution = _CONTRIBUTION_TUPLES[kind]
        pane = created_at - created_at % PANE_MS
        holders, log = self._slot(pane)
        if log is not None:
            log.append((topic, kind, author, sign))
        _add(holders, topic, contribution, author, sign)
        if log is None and not self.panes[pane]:
            del self.panes[pane]
            del self._slots[pane]

    def add_boost(self, topic: str, author: str, created_at: int, boosts: int, self_boosts: int) -> None:
        """Change one booster's live boosts and self-boosts, created at `created_at`, in its pane and
        in every window holding it: (1, 1 or 0) counts a boost, (-1, -1 or 0) uncounts it, (0, 1)
        makes a counted boost a self-boost. Called beside `add_fact` (after it when counting, before
        it when uncounting: the boost's tallies must exist), only when some computed profile reads
        per-author boosts."""
        holders, log = self._slot(created_at - created_at % PANE_MS)
        if log is not None:
            log.append((topic, None, author, (boosts, self_boosts)))
        for by_topic in holders:
            by_topic[topic].add_boost(author, boosts, self_boosts)

    def advance(self, boundary: int) -> None:
        """Move every running tally forward to `boundary` (a later boundary; earlier ones are ignored)."""
        if boundary <= self.head:
            return
        old = self.head
        for window in self.windows:
            old_start, old_end = window.bounds(old)
            new_start, new_end = window.bounds(boundary)
            by_topic = self.tallies[window.name]
            for pane in range(old_start, min(new_start, old_end), PANE_MS):
                self._merge_pane(by_topic, pane, -1)
            for pane in range(max(old_end, new_start), new_end, PANE_MS):
                self._merge_pane(by_topic, pane, 1)
        self._set_head(boundary)
        self._compact_some()

    def _compact_some(self) -> None:
        """Compact the running tallies of the next 1/`COMPACT_EVERY` of the topics of every window."""
        step = self._compact_step
        if step == 0:
            self._compacting = [(by_topic, list(by_topic)) for by_topic in self.tallies.values()]
        for by_topic, topics in self._compacting:
            n = len(topics)
            for topic in topics[n * step // COMPACT_EVERY : n * (step + 1) // COMPACT_EVERY]:
                tally = by_topic.get(topic)
                if tally is not None:
                    tally.compact()
        self._compact_step = (step + 1) % COMPACT_EVERY

    def drop_panes_before(self, cutoff: int) -> None:
        for pane in [p for p in (*self.panes, *self._pane_logs) if p < cutoff]:
            self.panes.pop(pane, None)
            self._pane_logs.pop(pane, None)
            self._slots.pop(pane, None)

    def _merge_pane(self, by_topic: dict[str, Tally], pane: int, sign: int) -> None:
        for topic, tally in (self._built(pane) or {}).items():
            acc = by_topic.get(topic)
            if acc is None:
                acc = by_topic[topic] = Tally()
            acc.merge(tally, sign)
            if acc.empty:
                del by_topic[topic]

    def tallies_at(self, boundary: int) -> Mapping[str, Mapping[str, Tally]]:
        """Every window's tallies for `boundary`: the running ones at the head, else summed from panes."""
        if boundary == self.head:
            return self.tallies
        result: dict[str, dict[str, Tally]] = {}
        for window in self.windows:
            by_topic: dict[str, Tally] = {}
            for pane in window.panes(boundary):
                self._merge_pane(by_topic, pane, 1)
            result[window.name] = by_topic
        return result

    def clear(self) -> None:
        self.panes.clear()
        self._pane_logs.clear()
        self.tallies = {w.name: {} for w in self.windows}
        self._compacting = []
        self._compact_step = 0
        self._set_head(self.head)
