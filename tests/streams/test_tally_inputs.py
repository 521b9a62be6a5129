"""`Tally.inputs` (what score profiles read of one window: capped sums, self-boosts left out or not)
equals the brute-force sums, whatever the order of changes, for the stream's per-fact counting and
the batch's per-author sums alike."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.scoring import ScoreInputs
from streams.sliding import Tally
from tests.streams.scoring_fold import count_fact

CAPS = (1, 2, 5)
# (kind, author, self-boost) facts; a self-boost flag on a post means nothing and is ignored.
facts = st.lists(
    st.tuples(st.sampled_from(["post", "reply", "boost", "bookmark"]), st.sampled_from("abcd"), st.booleans()),
    max_size=40,
)


def _brute(live: list[tuple[str, str, bool]], cap: int | None, count_self: bool) -> ScoreInputs:
    posts: dict[str, int] = {}
    boosts: dict[str, int] = {}
    for kind, author, own in live:
        if kind in ("post", "reply"):
            posts[author] = posts.get(author, 0) + 1
        elif kind == "boost" and (count_self or not own):
            boosts[author] = boosts.get(author, 0) + 1

    def capped(counts: dict[str, int]) -> int:
        return sum(n if cap is None else min(n, cap) for n in counts.values())

    return ScoreInputs(capped(posts), capped(boosts), len(posts))


def _check(tally: Tally, live: list[tuple[str, str, bool]]) -> None:
    for cap in (*CAPS, None):
        for count_self in (True, False):
            assert tally.inputs(cap, count_self) == _brute(live, cap, count_self)


@given(facts, st.randoms(use_true_random=False))
def test_counting_and_uncounting_in_any_order_keeps_every_capped_sum_exact(
    added: list[tuple[str, str, bool]], rnd: random.Random
) -> None:
    tally = Tally()
    for kind, author, own in added:
        count_fact(tally, kind, author, own, 1)
    _check(tally, added)
    live = list(added)
    rnd.shuffle(live)
    while live:
        kind, author, own = live.pop()
        count_fact(tally, kind, author, own, -1)
        _check(tally, live)
    assert tally.empty


@given(facts, facts)
def test_merging_panes_in_and_out_equals_counting_directly(
    first: list[tuple[str, str, bool]], second: list[tuple[str, str, bool]]
) -> None:
    pane_a, pane_b = Tally(), Tally()
    window, direct = Tally(), Tally()
    for kind, author, own in first:
        count_fact(pane_a, kind, author, own, 1)
        count_fact(direct, kind, author, own, 1)
    for kind, author, own in second:
        count_fact(pane_b, kind, author, own, 1)
    window.merge(pane_b, 1)
    window.merge(pane_a, 1)
    window.merge(pane_b, -1)
    _check(window, first)
    assert (window.authors, window.boosters or {}, window.self_boosters or {}) == (
        direct.authors, direct.boosters or {}, direct.self_boosters or {})


def test_one_more_post_raises_a_capped_sum_by_one_only_below_the_cap() -> None:
    tally = Tally()
    steps = []
    for _ in range(4):
        count_fact(tally, "post", "a", False, 1)
        steps.append(tally.inputs(2, True).posts)
    assert steps == [1, 2, 2, 2]
    count_fact(tally, "post", "a", False, -1)
    count_fact(tally, "post", "a", False, -1)
    assert tally.inputs(2, True).posts == 2  # 4 -> 3 -> 2: still at the cap
    count_fact(tally, "post", "a", False, -1)
    assert tally.inputs(2, True).posts == 1


def test_a_self_boost_moves_only_the_sums_that_count_it() -> None:
    tally = Tally()
    count_fact(tally, "boost", "a", False, 1)
    count_fact(tally, "boost", "a", True, 1)
    assert tally.inputs(None, True).boosts == 2 and tally.inputs(None, False).boosts == 1
    assert tally.inputs(1, True).boosts == 1 and tally.inputs(1, False).boosts == 1


def test_the_batch_adds_authors_totals_to_the_same_numbers() -> None:
    per_fact = Tally()
    for kind, author, own in [
        ("post", "a", False), ("reply", "a", False), ("post", "b", False),
        ("boost", "a", True), ("boost", "a", False), ("boost", "a", False), ("boost", "c", False),
    ]:
        count_fact(per_fact, kind, author, own, 1)
    batch = Tally()
    batch.add_author("a", posts=2, boosts=3, self_boosts=1)
    batch.add_author("b", posts=1, boosts=0, self_boosts=0)
    batch.add_author("c", posts=0, boosts=1, self_boosts=0)
    for cap in (None, 1, 2):
        for count_self in (True, False):
            assert batch.inputs(cap, count_self) == per_fact.inputs(cap, count_self)


def test_capped_or_self_boost_free_inputs_need_the_boosters_counts() -> None:
    tally = Tally()
    tally.add(0, 0, 1, 0, "a", False, True, 1)  # a boost counted without add_boost
    assert tally.inputs(None, True).boosts == 1
    with pytest.raises(ValueError, match="per-author boosts are not kept"):
        tally.inputs(2, True)
