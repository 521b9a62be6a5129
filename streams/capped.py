"""Per-author capped sums, kept current as facts come and go: O(caps) per fact, O(1) to read.

A profile with `author_cap = c` counts `sum over authors of min(count[author], c)` posts (and the same
for boosts) per topic and window. Recomputing that sum at snapshot time would cost one step per
(topic, author); instead each tally keeps the sum for every cap it tracks and adjusts it when one
author's count changes: going from n to n + 1 raises the capped sum by 1 iff n < c, going from
n to n - 1 lowers it by 1 iff n <= c. A snapshot then reads each topic's capped sums directly,
O(active topics), like the uncapped counters.

The stream keeps one `ScoringTally` per pane and topic (no caps: panes are only merged) and one per
window and topic (the caps of that window, `streams.scoring.tracked_caps(profiles, window)`), and
merges pane tallies into window tallies as the boundary moves. The reconciliation batch feeds the
per-(topic, author) counts it reads with SQL into the same class (`add_author`), so both sides
apply the cap with this code.
"""

from __future__ import annotations

from streams.scoring import ScoreInputs


def capped_change(old: int, new: int, caps: tuple[int, ...], sums: list[int]) -> None:
    """One key's count went from `old` to `new`: move each `sums[i]` (the sum of `min(count, caps[i])`)
    by `min(new, cap) - min(old, cap)`. For a count kept elsewhere (the metric tally's per-author
    post counts are exactly the counts the post cap needs)."""
    for i, cap in enumerate(caps):
        sums[i] += (new if new < cap else cap) - (old if old < cap else cap)


def add_capped(counts: dict[str, int], key: str, n: int, caps: tuple[int, ...], sums: list[int]) -> None:
    """Change one key's count by `n` and its capped sums with it; a count never goes below zero."""
    old = counts.get(key, 0)
    capped_change(old, _store(counts, key, old + n), caps, sums)


def add_boosts(
    boosts: dict[str, int], own: dict[str, int], booster: str, n: int, n_self: int,
    caps: tuple[int, ...], all_sums: list[int], other_sums: list[int],
) -> None:
    """`n` boosts of `booster`, `n_self` of them self-boosts: the per-booster counts of all boosts and
    of self-boosts (sparse: they are rare), the capped sums of all boosts and of the others."""
    old = boosts.get(booster, 0)
    new = _store(boosts, booster, old + n)
    old_self = own.get(booster, 0)
    new_self = _store(own, booster, old_self + n_self) if n_self else old_self
    capped_change(old, new, caps, all_sums)
    capped_change(old - old_self, new - new_self, caps, other_sums)


class ScoringTally:
    """What score profiles need of one topic in one pane or window, beyond the metric counters:
    per author, posts (posts and replies), boosts, and self-boosts (sparse: they are rare), with the
    capped sums of posts, of all boosts and of boosts other than self-boosts for each tracked cap.

    >>> t = ScoringTally((2,))
    >>> for kind, author, own in [("post", "a", False)] * 3 + [("reply", "b", False), ("boost", "a", True),
    ...                           ("boost", "a", False), ("boost", "c", False), ("bookmark", "d", False)]:
    ...     t.add_fact(kind, author, own, 1)
    >>> t.inputs(None, True), t.inputs(2, True), t.inputs(2, False)
    (ScoreInputs(posts=4, boosts=3, unique_authors=2), ScoreInputs(posts=3, boosts=3, unique_authors=2), ScoreInputs(posts=3, boosts=2, unique_authors=2))
    """

    __slots__ = (
        "boost_sums", "boosts", "caps", "other_sums", "post_sums", "posts", "self_boosts", "total_boosts",
        "total_posts", "total_self",
    )

    def __init__(self, caps: tuple[int, ...] = ()) -> None:
        self.caps = caps
        self.posts: dict[str, int] = {}
        self.boosts: dict[str, int] = {}
        self.self_boosts: dict[str, int] = {}
        self.post_sums = [0] * len(caps)
        self.boost_sums = [0] * len(caps)
        self.other_sums = [0] * len(caps)
        self.total_posts = self.total_boosts = self.total_self = 0

    def add_fact(self, kind: str, author: str, self_boost: bool, sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one live fact; bookmarks and deletes score nothing."""
        if kind == "post" or kind == "reply":
            self._add_posts(author, sign)
        elif kind == "boost":
            self._add_boosts(author, sign, sign if self_boost else 0)

    def add_author(self, author: str, posts: int, boosts: int, self_boosts: int) -> None:
        """Add one author's totals at once (the batch reads them per topic and author with SQL)."""
        if posts:
            self._add_posts(author, posts)
        if boosts:
            self._add_boosts(author, boosts, self_boosts)

    def merge(self, other: ScoringTally, sign: int) -> None:
        """Add (sign 1) or subtract (sign -1) every count of `other` (a pane entering or leaving)."""
        for author, n in other.posts.items():
            self._add_posts(author, sign * n)
        own = other.self_boosts
        for author, n in other.boosts.items():
            self._add_boosts(author, sign * n, sign * own.get(author, 0))

    def _add_posts(self, author: str, n: int) -> None:
        add_capped(self.posts, author, n, self.caps, self.post_sums)
        self.total_posts += n

    def _add_boosts(self, author: str, n: int, n_self: int) -> None:
        add_boosts(self.boosts, self.self_boosts, author, n, n_self, self.caps, self.boost_sums, self.other_sums)
        self.total_boosts += n
        self.total_self += n_self

    @property
    def empty(self) -> bool:
        return not self.posts and not self.boosts

    def inputs(self, cap: int | None, count_self_boosts: bool) -> ScoreInputs:
        """The capped sums for one need (`cap` None: no cap)."""
        if cap is None:
            boosts = self.total_boosts if count_self_boosts else self.total_boosts - self.total_self
            return ScoreInputs(self.total_posts, boosts, len(self.posts))
        try:
            i = self.caps.index(cap)
        except ValueError:
            raise KeyError(f"cap {cap} is not tracked (tracked: {self.caps})") from None
        boosts = self.boost_sums[i] if count_self_boosts else self.other_sums[i]
        return ScoreInputs(self.post_sums[i], boosts, len(self.posts))


def _store(counts: dict[str, int], key: str, value: int) -> int:
    """Set one author's count (forgetting the author at zero); a count never goes below zero."""
    if value > 0:
        counts[key] = value
    elif value == 0:
        counts.pop(key, None)
    else:
        raise ValueError(f"count of {key!r} would become {value}")
    return value
