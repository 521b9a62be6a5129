"""Capped sums kept incrementally equal the brute-force sum, whatever the order of changes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.capped import CappedCounts, ScoringTally
from streams.scoring import ScoreInputs

CAPS = (1, 2, 5)
changes = st.lists(st.tuples(st.sampled_from("abcd"), st.integers(min_value=1, max_value=7)), max_size=30)


def _brute(counts: dict[str, int], cap: int | None) -> int:
    return sum(n if cap is None else min(n, cap) for n in counts.values())


@given(changes, st.randoms(use_true_random=False))
def test_adding_and_removing_in_any_order_keeps_every_capped_sum_exact(
    adds: list[tuple[str, int]], rnd: random.Random
) -> None:
    c = CappedCounts(CAPS)
    expected: dict[str, int] = {}
    for key, n in adds:
        c.add(key, n)
        expected[key] = expected.get(key, 0) + n
    removals = list(adds)
    rnd.shuffle(removals)
    for key, n in removals[: len(removals) // 2]:
        c.add(key, -n)
        expected[key] -= n
        expected = {k: v for k, v in expected.items() if v}
        for cap in (*CAPS, None):
            assert c.capped(cap) == _brute(expected, cap)
    assert len(c) == len(expected) and c.counts == expected


@given(changes, changes)
def test_merging_panes_in_and_out_equals_counting_directly(
    first: list[tuple[str, int]], second: list[tuple[str, int]]
) -> None:
    pane_a, pane_b, window, direct = (CappedCounts(CAPS) for _ in range(4))
    for key, n in first:
        pane_a.add(key, n)
        direct.add(key, n)
    for key, n in second:
        pane_b.add(key, n)
    window.merge(pane_a, 1)
    window.merge(pane_b, 1)
    window.merge(pane_b, -1)
    assert window.counts == direct.counts
    assert [window.capped(c) for c in (*CAPS, None)] == [direct.capped(c) for c in (*CAPS, None)]


def test_one_more_fact_raises_a_capped_sum_by_one_only_below_the_cap() -> None:
    c = CappedCounts((2,))
    steps = []
    for _ in range(4):
        c.add("a", 1)
        steps.append(c.capped(2))
    assert steps == [1, 2, 2, 2]
    c.add("a", -1)
    c.add("a", -1)
    assert c.capped(2) == 2  # 4 -> 3 -> 2: still at the cap
    c.add("a", -1)
    assert c.capped(2) == 1


def test_counts_never_go_negative_and_untracked_caps_are_refused() -> None:
    c = CappedCounts((3,))
    with pytest.raises(ValueError, match="would become -1"):
        c.add("a", -1)
    with pytest.raises(KeyError, match="cap 4 is not tracked"):
        c.capped(4)


def test_scoring_tally_separates_posts_boosts_and_self_boosts() -> None:
    t = ScoringTally((1,))
    for kind, author, self_boost in [
        ("post", "a", False), ("reply", "a", False), ("post", "b", False), ("boost", "a", True),
        ("boost", "a", False), ("boost", "c", False), ("bookmark", "d", False), ("delete", "d", False),
    ]:
        t.add_fact(kind, author, self_boost, 1)
    assert t.inputs(None, True) == ScoreInputs(3, 3, 2)
    assert t.inputs(None, False) == ScoreInputs(3, 2, 2)
    assert t.inputs(1, True) == ScoreInputs(2, 2, 2)
    assert t.inputs(1, False) == ScoreInputs(2, 2, 2)
    batch = ScoringTally((1,))
    batch.add_author("a", posts=2, boosts=2, self_boosts=1)
    batch.add_author("b", posts=1, boosts=0, self_boosts=0)
    batch.add_author("c", posts=0, boosts=1, self_boosts=0)
    for cap in (None, 1):
        for count_self in (True, False):
            assert batch.inputs(cap, count_self) == t.inputs(cap, count_self)
    t.merge(batch, -1)
    assert t.empty
