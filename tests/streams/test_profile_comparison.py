"""Top-N overlap, Kendall's tau-b over the union of two top lists, entering and leaving the top 10:
hand-computed examples (the ones docs/scoring.md shows) and properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.profile_comparison import compare_rankings, kendall_tau, top_overlap


def test_identical_and_reversed_lists() -> None:
    assert kendall_tau(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert kendall_tau(["a", "b", "c"], ["c", "b", "a"]) == -1.0


def test_one_swapped_pair_of_six() -> None:
    # 5 concordant pairs, 1 discordant, no ties: (5 - 1) / 6.
    assert kendall_tau(["a", "b", "c", "d"], ["b", "a", "c", "d"]) == pytest.approx(4 / 6)


def test_a_topic_missing_from_one_top_list_is_placed_after_it() -> None:
    # Union {a, b, c}; in the first list c is after the top (position 2), in the second b is.
    # (a,b) and (a,c) concordant, (b,c) discordant, no pair tied in both: (2 - 1) / sqrt(3 * 3).
    assert kendall_tau(["a", "b"], ["a", "c"], depth=2) == pytest.approx(1 / 3)


def test_disjoint_top_lists_tie_their_missing_topics() -> None:
    # Union {a, b, c, d}: c, d tied after the first list's top, a, b after the second's.
    # 4 discordant pairs, (a,b) tied in the second list, (c,d) in the first: -4 / sqrt(5 * 5).
    assert kendall_tau(["a", "b"], ["c", "d"], depth=2) == pytest.approx(-0.8)


def test_only_the_top_depth_counts() -> None:
    assert kendall_tau(["a", "b", "x", "y"], ["a", "b", "y", "x"], depth=2) == 1.0


def test_nothing_to_order() -> None:
    assert kendall_tau([], []) is None
    assert kendall_tau(["a"], ["a"]) is None


def test_overlap_of_the_top_n() -> None:
    assert top_overlap(list("abcdefghijk"), list("bcdefghijkl"), 10) == pytest.approx(0.9)
    assert top_overlap(["a", "b"], ["b", "c", "d"], 10) == pytest.approx(1 / 3)
    assert top_overlap([], ["a"], 10) == 0.0
    assert top_overlap([], [], 10) is None


def test_the_documented_default_against_rising_example() -> None:
    c = compare_rankings(
        "default", ["doubling", "flood", "lonely", "steady", "new"], "rising", ["new", "flood", "doubling", "steady"]
    )
    assert (c.profile, c.against) == ("rising", "default")
    assert c.overlap_top10 == 0.8 and c.overlap_top50 == 0.8
    # lonely is not ranked by rising: placed after its list (position 4). Of the 10 pairs, 4 keep
    # their order (doubling-lonely, doubling-steady, flood-lonely, flood-steady), 6 flip: -2 / 10.
    assert c.kendall_tau == pytest.approx(-0.2)
    assert c.entering_top10 == ()
    assert c.leaving_top10 == ("lonely",)


def test_entering_and_leaving_keep_each_lists_order() -> None:
    active = [f"a{i}" for i in range(12)]
    shadow = ["new1", "a0", "new2", *active[1:9]]
    c = compare_rankings("default", active, "rising", shadow)
    assert c.entering_top10 == ("new1", "new2")
    assert c.leaving_top10 == ("a8", "a9")


rankings = st.lists(st.sampled_from([f"t{i}" for i in range(70)]), unique=True, max_size=70)


@given(rankings, rankings)
def test_tau_is_symmetric_and_bounded(a: list[str], b: list[str]) -> None:
    tau = kendall_tau(a, b)
    assert tau == kendall_tau(b, a)
    assert tau is None or -1.0 - 1e-12 <= tau <= 1.0 + 1e-12


@given(rankings, st.randoms(use_true_random=False))
def test_tau_of_a_list_with_itself_is_one(a: list[str], rnd: random.Random) -> None:
    assert kendall_tau(a, list(a)) == (1.0 if len(a) >= 2 else None)
    assert top_overlap(a, rnd.sample(a[:10], len(a[:10])), 10) in (1.0, None)
