"""Per-author capped sums, kept current as facts come and go: O(caps) per fact, O(1) to read.

A profile with `author_cap = c` counts `sum over authors of min(count[author], c)` posts (and the same
for boosts) per topic and window. Recomputing that sum at snapshot time would cost one step per
(topic, author); instead each tally keeps the sum for every tracked cap and adjusts it when one
author's count changes: going from n to n + 1 raises the capped sum by 1 iff n < c, going from
n to n - 1 lowers it by 1 iff n <= c. A snapshot then reads each topic's capped sums directly,
O(active topics), like the uncapped counters.

The stream keeps one `ScoringTally` per pane and topic and one per window and topic, next to the
metric tallies, and merges pane tallies into window tallies as the boundary moves (each pane's
authors are merged once into and once out of every window). The reconciliation batch feeds the
per-(topic, author) counts it reads with SQL into the same class (`add_author`), so both sides
apply the cap with this code.
"""

from __future__ import annotations

from streams.scoring import ScoreInputs


class CappedCounts:
    """Per-key counts plus, for each tracked cap, the sum of `min(count, cap)` over keys.

    >>> c = CappedCounts((2,))
    >>> for author in ["a", "a", "a", "b"]:
    ...     c.add(author, 1)
    >>> c.capped(None), c.capped(2), len(c)
    (4, 3, 2)
    >>> c.add("a", -2)
    >>> c.capped(None), c.capped(2)
    (2, 2)
    """

    __slots__ = ("caps", "counts", "sums", "total")

    def __init__(self, caps: tuple[int, ...] = ()) -> None:
        self.caps = caps
        self.counts: dict[str, int] = {}
        self.sums = [0] * len(caps)
        self.total = 0

    def add(self, key: str, n: int) -> None:
        """Change one key's count by `n` (negative to remove); a count never goes below zero."""
        old = self.counts.get(key, 0)
        new = old + n
        if new < 0:
            raise ValueError(f"count of {key!r} would become {new}")
        if new:
            self.counts[key] = new
        else:
            self.counts.pop(key, None)
        self.total += n
        sums = self.sums
        for i, cap in enumerate(self.caps):
            sums[i] += min(new, cap) - min(old, cap)

    def merge(self, other: CappedCounts, sign: int) -> None:
        """Add (sign 1) or subtract (sign -1) every count of `other`."""
        for key, n in other.counts.items():
            self.add(key, sign * n)

    def capped(self, cap: int | None) -> int:
        """The sum of `min(count, cap)` over keys; the plain total when `cap` is None."""
        if cap is None:
            return self.total
        try:
            return self.sums[self.caps.index(cap)]
        except ValueError:
            raise KeyError(f"cap {cap} is not tracked (tracked: {self.caps})") from None

    def __len__(self) -> int:
        return len(self.counts)


class ScoringTally:
    """What score profiles need of one topic in one pane or window, beyond the metric counters.

    `posts` counts posts and replies per author (its keys are the distinct authors), `boosts` every
    boost per booster, `other_boosts` the boosts that are not self-boosts.
    """

    __slots__ = ("boosts", "other_boosts", "posts")

    def __init__(self, caps: tuple[int, ...] = ()) -> None:
        self.posts = CappedCounts(caps)
        self.boosts = CappedCounts(caps)
        self.other_boosts = CappedCounts(caps)

    def add_fact(self, kind: str, author: str, self_boost: bool, sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one live fact; bookmarks and deletes score nothing."""
        if kind in ("post", "reply"):
            self.posts.add(author, sign)
        elif kind == "boost":
            self.boosts.add(author, sign)
            if not self_boost:
                self.other_boosts.add(author, sign)

    def add_author(self, author: str, posts: int, boosts: int, self_boosts: int) -> None:
        """Add one author's totals at once (the batch reads them per topic and author with SQL)."""
        if posts:
            self.posts.add(author, posts)
        if boosts:
            self.boosts.add(author, boosts)
        if boosts - self_boosts:
            self.other_boosts.add(author, boosts - self_boosts)

    def merge(self, other: ScoringTally, sign: int) -> None:
        self.posts.merge(other.posts, sign)
        self.boosts.merge(other.boosts, sign)
        self.other_boosts.merge(other.other_boosts, sign)

    @property
    def empty(self) -> bool:
        return not self.posts.counts and not self.boosts.counts

    def inputs(self, cap: int | None, count_self_boosts: bool) -> ScoreInputs:
        boosts = self.boosts if count_self_boosts else self.other_boosts
        return ScoreInputs(self.posts.capped(cap), boosts.capped(cap), len(self.posts))
