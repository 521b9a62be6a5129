"""The window state's per-author inputs for score profiles, against the brute-force oracle.

Random fact sets (posts, replies, boosts of own and others' posts, bookmarks, deletes before and
after their targets), delivered in any order with duplicates, checkpointed and restored part-way,
folded by the real `PartitionState` with per-author boosts on: every window's capped and uncapped
inputs, with and without self-boosts, must equal what `tests.scoring_oracle` counts by hand.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.aggregation import PartitionState
from streams.events import Event
from streams.scoring import SELF_BOOST_HORIZON_MS, ScoreInputs, baseline_window
from streams.sliding import Tally
from streams.state_store import MemoryStore
from streams.windows import HOUR_MS, PANE_MS, W6, W24, WPREV
from tests.scoring_oracle import expected_inputs

E = 1_700_000_100_000 - 1_700_000_100_000 % PANE_MS
WINDOWS = (W24, W6, WPREV, baseline_window(W6, 24))
RETENTION = 48 * HOUR_MS + SELF_BOOST_HORIZON_MS + HOUR_MS
NEEDS = [(cap, own) for cap in (None, 1, 2) for own in (True, False)]
IDS = [f"e{i}" for i in range(12)]

fact_strategy = st.builds(
    lambda i, kind, topic, author, hours_ago, minutes, target: Event(
        IDS[i], kind, topic, author, E - hours_ago * HOUR_MS - minutes * 60_000 - 1,
        None if kind == "post" else IDS[target],
    ),
    st.integers(0, len(IDS) - 1),
    st.sampled_from(["post", "post", "reply", "boost", "boost", "bookmark", "delete"]),
    st.sampled_from(["t1", "t2"]),
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 47),
    st.integers(0, 59),
    st.integers(0, len(IDS) - 1),
)


def fold(deliveries: list[Event], head: int, restore_at: int | None) -> PartitionState:
    store = MemoryStore()
    state = new_state(store, head)
    for i, event in enumerate(deliveries):
        state.apply(event)
        if i % 3 == 2:
            checkpoint(state, store, i)
        if i == restore_at:
            checkpoint(state, store, i)
            state = new_state(store, head)
    if head != E:
        state.advance(E)
    return state


def new_state(store: MemoryStore, head: int) -> PartitionState:
    state = PartitionState(0, store, WINDOWS, RETENTION, head, per_author_boosts=True)
    state.restore()
    return state


def checkpoint(state: PartitionState, store: MemoryStore, offset: int) -> None:
    store.write(state.take_pending(offset + 1), state.take_deletes())


def waiting_keys(store: MemoryStore) -> list[bytes]:
    return [k for k, _ in store.scan(b"", b"\xff") if k[3:4] == b"B"]


def stream_inputs(state: PartitionState, window: str, cap: int | None, own: bool) -> dict[str, ScoreInputs]:
    tallies: dict[str, Tally] = dict(state.window_tallies(E)[window])
    return {t: x for t, tally in tallies.items() if (x := tally.inputs(cap, own)) != ScoreInputs()}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(fact_strategy, max_size=14, unique_by=lambda e: (e.topic_id, e.event_id)),
    st.randoms(use_true_random=False),
    st.integers(0, 3),
    st.sampled_from([E, E - 2 * HOUR_MS]),
    st.none() | st.integers(0, 20),
)
def test_inputs_equal_the_oracle_in_any_order_with_duplicates(
    facts: list[Event], rng: object, duplicates: int, head: int, restore_at: int | None
) -> None:
    deliveries = facts + facts[:duplicates]
    rng.shuffle(deliveries)  # type: ignore[attr-defined]
    state = fold(deliveries, head, restore_at)
    for spec in WINDOWS:
        start, end = spec.bounds(E)
        for cap, own in NEEDS:
            expected = {t: x for t, x in expected_inputs(facts, start, end, cap, own).items() if x != ScoreInputs()}
            assert stream_inputs(state, spec.name, cap, own) == expected, (spec.name, cap, own)


def test_a_boost_waiting_for_its_target_becomes_a_self_boost_when_it_arrives() -> None:
    post = Event("p1", "post", "t1", "a", E - HOUR_MS)
    boosts = [Event("b1", "boost", "t1", "a", E - 30 * 60_000, "p1"), Event("b2", "boost", "t1", "b", E - 30 * 60_000, "p1")]
    store = MemoryStore()
    state = new_state(store, E)
    for b in boosts:
        state.apply(b)
    assert stream_inputs(state, W24.name, None, False)["t1"] == ScoreInputs(0, 2, 0)
    checkpoint(state, store, 1)
    state = new_state(store, E)  # the waiting boosts are restored from the store
    state.apply(post)
    assert stream_inputs(state, W24.name, None, False)["t1"] == ScoreInputs(1, 1, 1)
    assert stream_inputs(state, W24.name, None, True)["t1"] == ScoreInputs(1, 2, 1)
    checkpoint(state, store, 2)
    assert not waiting_keys(store), "the waiting keys are deleted once the target came"
    restored = new_state(store, E)
    assert stream_inputs(restored, W24.name, None, False)["t1"] == ScoreInputs(1, 1, 1)


def test_waiting_boosts_expire_with_their_pane() -> None:
    store = MemoryStore()
    state = new_state(store, E)
    state.apply(Event("b1", "boost", "t1", "a", E - HOUR_MS, "never"))
    checkpoint(state, store, 0)
    state.advance(E + RETENTION + PANE_MS)
    assert len(state.waiting) == 0
    assert not waiting_keys(store)


def test_state_folded_without_classification_is_replayed_when_it_is_turned_on() -> None:
    store = MemoryStore()
    plain = PartitionState(0, store, WINDOWS, RETENTION, E)
    plain.restore()
    plain.apply(Event("p1", "post", "t1", "a", E - HOUR_MS))
    store.write(plain.take_pending(1))
    classified = new_state(store, E)
    assert classified.offset is None and classified.loaded == 0, "replayed from the start"
    classified.apply(Event("p1", "post", "t1", "a", E - HOUR_MS))
    checkpoint(classified, store, 0)
    assert new_state(store, E).loaded == 1, "classified state is kept across restarts"


def test_per_author_inputs_need_the_per_author_state() -> None:
    state = PartitionState(0, MemoryStore(), WINDOWS, RETENTION, E)
    state.apply(Event("p1", "post", "t1", "a", E - HOUR_MS))
    state.apply(Event("b1", "boost", "t1", "b", E - HOUR_MS, "p1"))
    tally = state.window_tallies(E)[W24.name]["t1"]
    assert tally.inputs(None, True) == ScoreInputs(1, 1, 1)
    with pytest.raises(ValueError, match="per-author boosts"):
        tally.inputs(5, True)


@settings(max_examples=40, deadline=None)
@given(st.lists(fact_strategy, max_size=14, unique_by=lambda e: (e.topic_id, e.event_id)), st.integers(1, 4))
def test_one_authors_thousand_extra_posts_move_capped_inputs_by_at_most_the_cap(facts: list[Event], cap: int) -> None:
    """Through the real window state: a flood by one author adds at most `cap` posts (and one
    distinct author), and raising the cap never lowers anything."""
    before = fold(facts, E, None)
    flood = [Event(f"flood{i}", "post", "t1", "spammer", E - HOUR_MS - i) for i in range(1000)]
    after = fold(facts + flood, E, None)
    old = stream_inputs(before, W24.name, cap, False).get("t1", ScoreInputs())
    new = stream_inputs(after, W24.name, cap, False)["t1"]
    assert 0 <= new.posts - old.posts <= cap and new.boosts == old.boosts
    assert new.unique_authors - old.unique_authors <= 1
    for raised in (cap + 1, None):
        higher = stream_inputs(after, W24.name, raised, False)["t1"]
        assert higher.posts >= new.posts and higher.boosts >= new.boosts
