"""Compare two rankings of topics: what switching from the active profile to a shadow one would change.

Pure. A ranking is a sequence of topic ids, best first (a profile's ranked topics in rank order).
Reported per shadow profile: the overlap of the two top 10 and top 50 lists, Kendall's tau-b over
the union of the two top-50 lists, and the topics that would enter and leave the top 10.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

TAU_DEPTH: Final = 50


@dataclass(frozen=True, slots=True)
class RankingComparison:
    profile: str
    against: str
    overlap_top10: float | None
    overlap_top50: float | None
    kendall_tau: float | None
    entering_top10: tuple[str, ...]
    leaving_top10: tuple[str, ...]


def top_overlap(active: Sequence[str], other: Sequence[str], n: int) -> float | None:
    """Share of the top `n` the two rankings have in common: `|A_n ∩ B_n| / max(|A_n|, |B_n|)`.

    A list shorter than `n` is compared as it is; None when both are empty.

    >>> top_overlap(["a", "b", "c"], ["c", "d", "a"], 3)
    0.6666666666666666
    >>> top_overlap(["a"], ["a", "b"], 10), top_overlap([], [], 10)
    (0.5, None)
    """
    a, b = set(active[:n]), set(other[:n])
    size = max(len(a), len(b))
    return len(a & b) / size if size else None


def kendall_tau(active: Sequence[str], other: Sequence[str], depth: int = TAU_DEPTH) -> float | None:
    """Kendall's tau-b between two top-`depth` lists, over the union of their topics.

    A topic in one top list but not the other is placed, in the list that lacks it, after that
    list's top (all such topics tied there): the comparison is about the lists people see, and it
    can be computed from the two top lists alone. Those ties are why tau-b and not tau-a: tau-b
    leaves tied pairs out of the denominator, so it stays 1 for identical lists and -1 for reversed
    ones, and two disjoint lists score -0.8 at depth 2 (docs/scoring.md). None when fewer than two
    topics can be ordered.

    >>> kendall_tau(["a", "b", "c", "d"], ["b", "a", "c", "d"])
    0.6666666666666666
    >>> kendall_tau(["a", "b"], ["a", "c"], depth=2)
    0.3333333333333333
    """
    top_a, top_b = list(active[:depth]), list(other[:depth])
    pos_a = {t: i for i, t in enumerate(top_a)}
    pos_b = {t: i for i, t in enumerate(top_b)}
    union = list(pos_a) + [t for t in top_b if t not in pos_a]
    ra = [pos_a.get(t, len(top_a)) for t in union]
    rb = [pos_b.get(t, len(top_b)) for t in union]
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(union)):
        for j in range(i + 1, len(union)):
            da, db = ra[i] - ra[j], rb[i] - rb[j]
            if da == 0:
                ties_a += 1
            if db == 0:
                ties_b += 1
            if da and db:
                if (da > 0) == (db > 0):
                    concordant += 1
                else:
                    discordant += 1
    pairs = len(union) * (len(union) - 1) // 2
    denominator = math.sqrt((pairs - ties_a) * (pairs - ties_b))
    return (concordant - discordant) / denominator if denominator else None


def compare_rankings(
    active_name: str, active: Sequence[str], shadow_name: str, shadow: Sequence[str]
) -> RankingComparison:
    """What switching from `active` to `shadow` would change, by the measures above.

    >>> c = compare_rankings("default", ["a", "b"], "rising", ["c", "a"])
    >>> c.entering_top10, c.leaving_top10
    (('c',), ('b',))
    """
    top_a, top_s = active[:10], shadow[:10]
    in_a, in_s = set(top_a), set(top_s)
    return RankingComparison(
        profile=shadow_name,
        against=active_name,
        overlap_top10=top_overlap(active, shadow, 10),
        overlap_top50=top_overlap(active, shadow, 50),
        kendall_tau=kendall_tau(active, shadow),
        entering_top10=tuple(t for t in top_s if t not in in_a),
        leaving_top10=tuple(t for t in top_a if t not in in_s),
    )
