"""Score profiles: the default is today's score bit for bit, rising follows its documented examples,
the anti-gaming parameters bound what one author can do, and the inputs are the same whatever the
order, duplication or path (incremental tallies or brute force)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import ScoreWeights
from streams.events import Event, Kind
from streams.metrics import score
from streams.scoring import (
    DEFAULT,
    NO_INPUTS,
    RISING,
    SELF_BOOST_HORIZON_MS,
    RisingParameters,
    ScoreInputs,
    ScoreProfile,
    TopicScore,
    baseline_window,
    builtin_profiles,
    rank_topics,
    required_span_ms,
    score_topic,
    scoring_windows,
)
from streams.windows import W6, W24, WPREV
from tests.scoring_oracle import expected_inputs, live
from tests.streams.scoring_fold import fold, inputs_by_topic, profile_inputs

MINUTE = 60_000
HOUR = 60 * MINUTE
E = 1_700_000_000_000 - 1_700_000_000_000 % (5 * MINUTE)

counts = st.integers(min_value=0, max_value=10**6)
weights = st.builds(
    ScoreWeights,
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)


# -- the default profile is today's score -------------------------------------------------------


@given(counts, counts, counts, counts, counts, counts, weights)
def test_default_profile_is_the_metrics_score_bit_for_bit(
    p24: int, u24: int, b24: int, p6: int, u6: int, b6: int, w: ScoreWeights
) -> None:
    profile = builtin_profiles(w)["default"]
    got = score_topic(profile, [ScoreInputs(p24, b24, u24), ScoreInputs(p6, b6, u6)])
    assert got.score_24h.hex() == score(p24, u24, b24, w).hex()
    assert got.score_6h.hex() == score(p6, u6, b6, w).hex()
    assert got.ranked


def test_default_profile_reads_uncapped_counts_with_self_boosts() -> None:
    assert [(n.window, n.cap, n.count_self_boosts) for n in DEFAULT.needs] == [(W24, None, True), (W6, None, True)]
    assert scoring_windows([DEFAULT]) == ()
    assert required_span_ms([DEFAULT]) == 24 * HOUR


# -- fingerprints -------------------------------------------------------------------------------


def test_fingerprint_is_pinned_for_the_default_profile() -> None:
    # score_change compares snapshots by fingerprint: an accidental change would null it for a day.
    assert DEFAULT.fingerprint == "8003496d9aa17b3f"
    assert ScoreProfile("default", weights=ScoreWeights(0.6, 0.3, 0.1)).fingerprint == DEFAULT.fingerprint
    assert dataclasses.replace(DEFAULT, name="copy").fingerprint == DEFAULT.fingerprint


def _variants(profile: ScoreProfile) -> list[ScoreProfile]:
    w = profile.weights
    changed = [
        dataclasses.replace(profile, weights=ScoreWeights(w.posts + 0.5, w.unique_authors, w.boosts)),
        dataclasses.replace(profile, weights=ScoreWeights(w.posts, w.unique_authors, w.boosts + 0.5)),
        dataclasses.replace(profile, min_authors=profile.min_authors + 1),
        dataclasses.replace(profile, author_cap=(profile.author_cap or 1) + 1),
        dataclasses.replace(profile, count_self_boosts=not profile.count_self_boosts),
    ]
    if profile.rising is None:
        changed.append(dataclasses.replace(profile, weights=ScoreWeights(w.posts, w.unique_authors + 0.5, w.boosts)))
        changed.append(dataclasses.replace(profile, author_cap=None if profile.author_cap else 3))
        changed.append(dataclasses.replace(profile, formula="rising", rising=RisingParameters()))
    else:
        changed.append(dataclasses.replace(profile, author_cap=None))
        changed.append(dataclasses.replace(profile, rising=RisingParameters(baseline_hours=48)))
        changed.append(dataclasses.replace(profile, rising=RisingParameters(expected_floor=2.0)))
        changed.append(dataclasses.replace(profile, formula="linear", rising=None))
    return changed


@pytest.mark.parametrize("profile", [DEFAULT, RISING], ids=["default", "rising"])
def test_fingerprint_changes_with_every_parameter(profile: ScoreProfile) -> None:
    prints = [profile.fingerprint] + [p.fingerprint for p in _variants(profile)]
    assert len(set(prints)) == len(prints)
    assert all(len(f) == 16 and int(f, 16) >= 0 for f in prints)


def test_rising_fingerprint_ignores_the_weight_it_does_not_use() -> None:
    w = RISING.weights
    other = dataclasses.replace(RISING, weights=ScoreWeights(w.posts, w.unique_authors + 1, w.boosts))
    assert other.fingerprint == RISING.fingerprint


def test_profiles_reject_inconsistent_parameters() -> None:
    with pytest.raises(ValueError, match="rising parameters"):
        ScoreProfile("x", "rising")
    with pytest.raises(ValueError, match="author_cap"):
        ScoreProfile("x", author_cap=0)
    with pytest.raises(ValueError, match="baseline_hours"):
        RisingParameters(baseline_hours=36)
    with pytest.raises(ValueError, match="expected_floor"):
        RisingParameters(expected_floor=0.0)


# -- what rising reads ----------------------------------------------------------------------------


def test_rising_reads_each_window_and_its_baseline_with_the_cap_scaled_to_length() -> None:
    n24, b24, n6, b6 = RISING.needs
    assert (n24.window, n24.cap, b24.window, b24.cap) == (W24, 5, WPREV, 5)
    assert (n6.window, n6.cap) == (W6, 5)
    assert b6.window.bounds(E) == (E - 30 * HOUR, E - 6 * HOUR) and b6.cap == 20
    assert not any(n.count_self_boosts for n in RISING.needs)
    assert scoring_windows([DEFAULT, RISING]) == (b6.window,)
    # The previous 24 h plus the self-boost horizon: a scored boost's target must still be held.
    assert required_span_ms([DEFAULT, RISING]) == 48 * HOUR + SELF_BOOST_HORIZON_MS
    week = dataclasses.replace(RISING, rising=RisingParameters(baseline_hours=168))
    assert baseline_window(W6, 168).bounds(E) == (E - 174 * HOUR, E - 6 * HOUR)
    assert [n.cap for n in week.needs] == [5, 35, 5, 140]


# -- the worked examples of docs/scoring.md --------------------------------------------------------


def _post(topic: str, author: str, at: int, n: int) -> Event:
    return Event(f"{topic}-{author}-p{n}", "post", topic, author, at)


def _boost(topic: str, booster: str, at: int, n: int, target: str) -> Event:
    return Event(f"{topic}-{booster}-b{n}", "boost", topic, booster, at, target)


def _steady(topic: str, doubled: bool) -> list[Event]:
    """20 authors posting twice in every 6 h block for 48 h, 8 boosters boosting once a block;
    `doubled`: twice as much in the last 6 h."""
    events: list[Event] = []
    for block in range(8):
        base = E - (block + 1) * 6 * HOUR
        times = 4 if doubled and block == 0 else 2
        for a in range(20):
            events += [_post(topic, f"a{a}", base + HOUR + k * MINUTE, block * 10 + k) for k in range(times)]
        for b in range(8):
            events += [
                _boost(topic, f"b{b}", base + 2 * HOUR + k * MINUTE, block * 10 + k, f"{topic}-a0-p0")
                for k in range(times // 2)
            ]
    return events


def _examples() -> list[Event]:
    new = [_post("new", f"n{a}", E - 3 * HOUR + k * MINUTE, k) for a, n in enumerate([3, 3, 2, 2]) for k in range(n)]
    new += [_boost("new", f"fan{i}", E - 2 * HOUR, 0, "new-n0-p0") for i in range(5)]
    flood = [_post("flood", "spammer", E - 5 * HOUR + k * MINUTE, k) for k in range(200)]
    flood += [_post("flood", "x", E - HOUR, 0), _post("flood", "y", E - HOUR, 0)]
    lonely = [_post("lonely", "spammer", E - 5 * HOUR + k * MINUTE, k) for k in range(200)]
    lonely += [_post("lonely", "x", E - HOUR, 0)]
    return _steady("steady", False) + _steady("doubling", True) + new + flood + lonely


def _scores(profile: ScoreProfile, events: list[Event]) -> dict[str, TopicScore]:
    inputs = profile_inputs(fold(events), profile, E)
    return {topic: score_topic(profile, by_need) for topic, by_need in inputs.items()}


def test_rising_worked_examples() -> None:
    got = _scores(RISING, _examples())
    assert got["new"] == TopicScore(30.25, 30.25, True)
    assert got["steady"] == TopicScore(0.0, 0.0, True)
    assert got["doubling"].score_6h == 24.8
    assert got["doubling"].score_24h == pytest.approx(0.8**2 / 63.2)
    assert got["flood"] == TopicScore(10.240000000000002, 10.240000000000002, True)
    assert got["lonely"] == TopicScore(0.0, 0.0, False)
    ranks = rank_topics((t, s, 0) for t, s in got.items())
    assert sorted(ranks, key=ranks.__getitem__) == ["new", "flood", "doubling", "steady"]


def test_default_worked_examples() -> None:
    got = _scores(DEFAULT, _examples())
    assert got["steady"].score_24h == 105.2
    assert got["doubling"].score_24h == 130.0
    assert got["flood"].score_24h == 122.1
    assert got["new"].score_24h == 7.7
    posts = {"steady": 160, "doubling": 200, "flood": 202, "new": 10, "lonely": 201}
    ranks = rank_topics((t, s, posts[t]) for t, s in got.items())
    assert sorted(ranks, key=ranks.__getitem__) == ["doubling", "flood", "lonely", "steady", "new"]


# -- anti-gaming ----------------------------------------------------------------------------------


def test_min_authors_zeroes_a_window_and_unranks_a_topic_short_of_authors_in_24h() -> None:
    profile = ScoreProfile("p", min_authors=3)
    got = score_topic(profile, [ScoreInputs(9, 0, 3), ScoreInputs(4, 0, 2)])
    assert got == TopicScore(9 * 0.6 + 3 * 0.3, 0.0, True)
    assert score_topic(profile, [ScoreInputs(9, 0, 2), NO_INPUTS]) == TopicScore(0.0, 0.0, False)
    with pytest.raises(ValueError, match="needs 2 inputs, got 1"):
        score_topic(profile, [ScoreInputs(9, 0, 2)])


def test_self_boosts_count_in_the_default_profile_only() -> None:
    events = [
        Event("p", "post", "t", "alice", E - HOUR), Event("q", "post", "t", "bob", E - HOUR),
        Event("b1", "boost", "t", "alice", E - HOUR + 1, "p"),  # self-boost
        Event("b2", "boost", "t", "alice", E - HOUR + 2, "q"),  # bob's post: ordinary
        Event("b3", "boost", "t", "bob", E - HOUR + 3, "unknown"),  # target never seen: ordinary
    ]
    no_self = ScoreProfile("p", count_self_boosts=False)
    folded = fold(events)
    assert inputs_by_topic(folded, DEFAULT.needs[0], E)["t"] == ScoreInputs(2, 3, 2)
    assert inputs_by_topic(folded, no_self.needs[0], E)["t"] == ScoreInputs(2, 2, 2)


def test_a_target_older_than_the_horizon_does_not_make_a_self_boost() -> None:
    post = Event("p", "post", "t", "alice", E - 30 * HOUR)
    late = Event("b1", "boost", "t", "alice", post.created_at + SELF_BOOST_HORIZON_MS + 1, "p")
    just = Event("b2", "boost", "t", "alice", post.created_at + SELF_BOOST_HORIZON_MS, "p")
    no_self = ScoreProfile("p", count_self_boosts=False)
    assert inputs_by_topic(fold([post, late, just]), no_self.needs[0], E)["t"].boosts == 1


# -- properties over random fact sets -------------------------------------------------------------

TOPICS = ("t0", "t1")
AUTHORS = ("a0", "a1", "a2", "a3")
KINDS: tuple[Kind, ...] = ("post", "reply", "boost", "boost", "bookmark", "delete")
# Times crowded around every window edge a profile reads (6 h, 24 h, 30 h, 48 h before E).
OFFSETS = (0, 1, 5 * MINUTE, 6 * HOUR, 24 * HOUR, 30 * HOUR, 47 * HOUR, 48 * HOUR)


@st.composite
def fact_lists(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(min_value=0, max_value=40))
    events = []
    for i in range(n):
        kind = draw(st.sampled_from(KINDS))
        at = E - draw(st.sampled_from(OFFSETS)) + draw(st.sampled_from((-1, 0, 1, 2 * HOUR)))
        target = None if kind == "post" else f"e{draw(st.integers(min_value=0, max_value=max(n - 1, 0)))}"
        events.append(Event(f"e{i}", kind, draw(st.sampled_from(TOPICS)), draw(st.sampled_from(AUTHORS)), at, target))
    return events


PROFILES = (
    DEFAULT,
    RISING,
    ScoreProfile("capped", author_cap=2, count_self_boosts=False),
    ScoreProfile("rising-1", "rising", author_cap=1, rising=RisingParameters(baseline_hours=24)),
)


def _nonempty(inputs: dict[str, ScoreInputs]) -> dict[str, ScoreInputs]:
    return {t: x for t, x in inputs.items() if x != NO_INPUTS}


@settings(max_examples=150, deadline=None)
@given(fact_lists(), st.randoms(use_true_random=False))
def test_incremental_inputs_match_the_oracle_in_any_order_with_duplicates(
    events: list[Event], rnd: random.Random
) -> None:
    delivered = events + [rnd.choice(events) for _ in range(len(events) // 2)] if events else []
    rnd.shuffle(delivered)
    folded = fold(delivered)
    for profile in PROFILES:
        for need in profile.needs:
            start, end = need.window.bounds(E)
            want = expected_inputs(events, start, end, need.cap, need.count_self_boosts)
            assert _nonempty(inputs_by_topic(folded, need, E)) == _nonempty(want), (profile.name, need)


def _linear(cap: int | None, min_authors: int = 0) -> ScoreProfile:
    return ScoreProfile("p", author_cap=cap, min_authors=min_authors, count_self_boosts=False)


@settings(max_examples=100, deadline=None)
@given(fact_lists(), st.integers(min_value=1, max_value=4), st.integers(min_value=0, max_value=3))
def test_raising_a_cap_never_lowers_a_linear_score(events: list[Event], cap: int, more: int) -> None:
    lower, higher, uncapped = _linear(cap), _linear(cap + more), _linear(None)
    low, high, top = (_scores(p, events) for p in (lower, higher, uncapped))
    for topic, s in low.items():
        assert s.score_24h <= high[topic].score_24h <= top[topic].score_24h
        assert s.score_6h <= high[topic].score_6h <= top[topic].score_6h


@settings(max_examples=100, deadline=None)
@given(fact_lists(), st.integers(min_value=1, max_value=4))
def test_raising_a_cap_never_lowers_rising_observed_activity(events: list[Event], cap: int) -> None:
    # Not the rising score itself: a higher cap raises the baseline too (docs/scoring.md).
    folded = fold(events)
    for window in (W24, W6):
        start, end = window.bounds(E)
        for tally in folded.window(start, end).values():
            assert tally.inputs(cap, False).posts <= tally.inputs(cap + 1, False).posts
            assert tally.inputs(cap, False).boosts <= tally.inputs(cap + 1, False).boosts


@settings(max_examples=100, deadline=None)
@given(fact_lists(), st.sampled_from((*AUTHORS, "newcomer")), st.integers(min_value=1, max_value=5))
def test_one_authors_thousand_extra_posts_move_a_capped_score_by_at_most_the_cap(
    events: list[Event], author: str, cap: int
) -> None:
    profile = _linear(cap)
    w = profile.weights
    extra = [Event(f"flood{k}", "post", "t0", author, E - 5 * MINUTE - k) for k in range(1000)]
    before, after = _scores(profile, events), _scores(profile, events + extra)
    for window, field in ((W24, "score_24h"), (W6, "score_6h")):
        start, end = window.bounds(E)
        already = any(
            e.author == author and e.topic_id == "t0" and e.kind in ("post", "reply") and start <= e.created_at < end
            for e in live(events)
        )
        old = getattr(before.get("t0"), field, 0.0)
        new = getattr(after["t0"], field)
        bound = cap * w.posts + (0.0 if already else w.unique_authors)
        assert old <= new <= old + bound + 1e-9


@settings(max_examples=60, deadline=None)
@given(fact_lists())
def test_min_authors_only_removes(events: list[Event]) -> None:
    plain, gated = _scores(_linear(None), events), _scores(_linear(None, min_authors=2), events)
    for topic, s in gated.items():
        assert s.score_24h in (0.0, plain[topic].score_24h) and s.score_6h in (0.0, plain[topic].score_6h)
        assert not s.ranked or s.score_24h == plain[topic].score_24h


# -- ranking ----------------------------------------------------------------------------------------


def test_rank_follows_the_read_api_order_and_skips_unranked_topics() -> None:
    scored = [
        ("d", TopicScore(2.0, 1.0, True), 5),
        ("c", TopicScore(2.0, 1.0, True), 7),
        ("b", TopicScore(2.0, 3.0, True), 1),
        ("a", TopicScore(9.0, 0.0, False), 99),
        ("e", TopicScore(2.0, 1.0, True), 5),
    ]
    assert rank_topics(scored) == {"b": 1, "c": 2, "d": 3, "e": 4}
