"""Parts of one snapshot computed under different profile fingerprints are never promoted together."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.snapshot_profiles import PartProfiles, Promotion, agreed_profiles


def test_parts_that_agree_promote_every_profile() -> None:
    part = PartProfiles("default", {"default": "d1", "rising": "r1", "fair": "f1"})
    assert agreed_profiles([part, part, part]) == Promotion("default", "d1", {"fair": "f1", "rising": "r1"})


def test_a_different_active_fingerprint_blocks_the_snapshot() -> None:
    old = PartProfiles("default", {"default": "d1"})
    reweighted = PartProfiles("default", {"default": "d2"})
    assert agreed_profiles([old, reweighted]) is None


def test_a_different_active_profile_blocks_the_snapshot_even_with_the_same_profiles_computed() -> None:
    before = PartProfiles("default", {"default": "d1", "rising": "r1"})
    after = PartProfiles("rising", {"default": "d1", "rising": "r1"})
    assert agreed_profiles([before, after]) is None


def test_a_shadow_missing_or_changed_in_one_part_is_left_out() -> None:
    a = PartProfiles("default", {"default": "d1", "rising": "r1", "fair": "f1"})
    b = PartProfiles("default", {"default": "d1", "rising": "r2"})
    assert agreed_profiles([a, b]) == Promotion("default", "d1", {})
    assert agreed_profiles([b, a]) == Promotion("default", "d1", {})


def test_malformed_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one part"):
        agreed_profiles([])
    with pytest.raises(ValueError, match="lacks the fingerprint of its active profile"):
        agreed_profiles([PartProfiles("rising", {"default": "d1"})])


@st.composite
def part_lists(draw: st.DrawFn) -> list[PartProfiles]:
    result = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        active = draw(st.sampled_from(["default", "rising"]))
        prints = draw(st.dictionaries(st.sampled_from(["default", "rising", "fair"]), st.sampled_from(["x", "y"])))
        prints.setdefault(active, draw(st.sampled_from(["x", "y"])))
        result.append(PartProfiles(active, prints))
    return result


@given(part_lists(), st.randoms(use_true_random=False))
def test_the_decision_does_not_depend_on_the_order_of_parts(given_parts: list[PartProfiles], rnd: random.Random) -> None:
    shuffled = list(given_parts)
    rnd.shuffle(shuffled)
    assert agreed_profiles(shuffled) == agreed_profiles(given_parts)
    promotion = agreed_profiles(given_parts)
    if promotion is not None:
        for part in given_parts:
            assert part.active == promotion.active and part.fingerprints[part.active] == promotion.fingerprint
            assert all(part.fingerprints[name] == fp for name, fp in promotion.shadows.items())
    else:
        assert len({(p.active, p.fingerprints[p.active]) for p in given_parts}) > 1
