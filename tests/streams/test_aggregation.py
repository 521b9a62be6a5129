from __future__ import annotations

import random
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import ScoreWeights
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_keys import legacy_time_range, partition_range
from streams.state_store import MemoryStore
from streams.windows import HOUR_MS, PANE_MS, retention_ms, window_set
from tests.oracle import expected_rows

E = 1_700_000_100_000 - 1_700_000_100_000 % PANE_MS  # a boundary
WINDOWS = window_set()
RETENTION = retention_ms(WINDOWS, 10 * 60_000)


def state(head: int = E, store: MemoryStore | None = None) -> PartitionState:
    return PartitionState(0, store or MemoryStore(), WINDOWS, RETENTION, head)


def snapshot(s: PartitionState, boundary: int = E) -> dict[str, dict]:
    rows = s.snapshot(boundary, ScoreWeights(), updated_at=0).rows
    return {r.topic_id: {k: v for k, v in asdict(r).items() if k != "updated_at"} for r in rows}


def ev(event_id: str, kind: str, t: int, topic: str = "t1", author: str = "a", target: str | None = None) -> Event:
    if kind != "post" and target is None:
        target = "p1"
    return Event(event_id=event_id, kind=kind, topic_id=topic, author=author, created_at=t, target_id=target)  # type: ignore[arg-type]


def test_boundaries_are_half_open() -> None:
    s = state()
    s.apply(ev("p-start", "post", E - 24 * HOUR_MS))
    s.apply(ev("p-end", "post", E))
    s.apply(ev("p-6h", "post", E - 6 * HOUR_MS, author="b"))
    s.apply(ev("p-before6h", "post", E - 6 * HOUR_MS - 1, author="c"))
    row = snapshot(s)["t1"]
    assert row["posts_24h"] == 3  # E-24h counts, E does not
    assert row["posts_6h"] == 1  # E-6h counts, one ms earlier does not
    assert row["unique_authors"] == 3
    assert row["unique_authors_6h"] == 1


def test_every_metric_and_score() -> None:
    s = state()
    facts = [
        ev("p1", "post", E - 10 * HOUR_MS, author="alice"),
        ev("p2", "post", E - 1 * HOUR_MS, author="bob"),
        ev("r1", "reply", E - 30 * 60_000, author="carol", target="p1"),
        ev("b1", "boost", E - 2 * HOUR_MS, author="dave", target="p1"),
        ev("k1", "bookmark", E - 3 * HOUR_MS, author="erin", target="p2"),
        ev("old", "post", E - 30 * HOUR_MS, author="frank"),
        ev("old2", "boost", E - 40 * HOUR_MS, author="gina", target="old"),
    ]
    for f in facts:
        assert s.apply(f) == "counted"
    row = snapshot(s)["t1"]
    assert row == expected_rows(facts, E)["t1"]
    assert row["posts_24h"] == 3 and row["replies"] == 1 and row["boosts"] == 1 and row["bookmarks"] == 1
    assert row["participants_24h"] == 5 and row["participant_delta"] == 5 - 2
    assert row["score_24h"] == pytest.approx(3 * 0.6 + 3 * 0.3 + 1 * 0.1)


def test_duplicates_change_nothing() -> None:
    s = state()
    assert s.apply(ev("p1", "post", E - HOUR_MS)) == "counted"
    assert s.apply(ev("p1", "post", E - HOUR_MS)) == "duplicate"
    s.store.write(s.take_pending(10))
    assert s.apply(ev("p1", "post", E - HOUR_MS)) == "duplicate"  # also once written to the store
    assert snapshot(s)["t1"]["posts_24h"] == 1


def test_same_event_id_in_two_topics_counts_in_both() -> None:
    s = state()
    assert s.apply(ev("p1", "post", E - HOUR_MS, topic="a")) == "counted"
    assert s.apply(ev("p1", "post", E - HOUR_MS, topic="b")) == "counted"
    assert set(snapshot(s)) == {"a", "b"}


def test_delete_after_its_target_retracts_it() -> None:
    s = state()
    s.apply(ev("p1", "post", E - HOUR_MS, author="x"))
    s.apply(ev("p2", "post", E - HOUR_MS, author="y"))
    assert s.apply(ev("d1", "delete", E - 10 * 60_000, author="x", target="p1")) == "counted"
    row = snapshot(s)["t1"]
    assert row["posts_24h"] == 1 and row["unique_authors"] == 1 and row["participants_24h"] == 1


def test_delete_before_its_target_cancels_it_on_arrival() -> None:
    s = state()
    s.apply(ev("d1", "delete", E - 10 * 60_000, target="b1"))
    assert s.apply(ev("b1", "boost", E - HOUR_MS, target="p9")) == "retracted"
    assert s.apply(ev("b1", "boost", E - HOUR_MS, target="p9")) == "duplicate"
    assert snapshot(s) == {}


def test_deleting_the_only_fact_removes_the_topic_row() -> None:
    s = state()
    s.apply(ev("p1", "post", E - HOUR_MS))
    s.apply(ev("d1", "delete", E - HOUR_MS, target="p1"))
    assert snapshot(s) == {}


def test_late_and_future_events() -> None:
    s = state()
    assert s.apply(ev("ancient", "post", E - RETENTION - 1)) == "late"
    assert s.apply(ev("edge", "post", E - RETENTION)) == "counted"
    assert s.apply(ev("future", "post", E + 2 * 60_000)) == "counted"
    assert snapshot(s) == {}  # neither is inside W24 of E
    s.advance(E + PANE_MS)
    assert snapshot(s, E + PANE_MS)["t1"]["posts_24h"] == 1  # the future event entered


def test_advancing_matches_recomputing() -> None:
    rng = random.Random(7)
    facts = [
        ev(f"e{i}", rng.choice(["post", "reply", "boost", "bookmark"]), E - rng.randrange(0, 50 * HOUR_MS),
           topic=rng.choice("abc"), author=rng.choice("uvwxyz"), target="p0")
        for i in range(400)
    ]
    s = state()
    for f in facts:
        s.apply(f)
    for step in (1, 3, 12, 100):
        boundary = E + step * PANE_MS
        s.advance(boundary)
        assert snapshot(s, boundary) == expected_rows(facts_after_cutoff(facts, s.cutoff), boundary)


def facts_after_cutoff(facts: list[Event], cutoff: int) -> list[Event]:
    return [f for f in facts if f.created_at >= cutoff]


def test_past_boundary_is_summed_from_panes() -> None:
    s = state()
    facts = [ev(f"p{i}", "post", E - i * HOUR_MS - 1, author=f"a{i % 3}") for i in range(30)]
    for f in facts:
        s.apply(f)
    s.advance(E + 2 * PANE_MS)
    assert snapshot(s, E) == expected_rows(facts, E)


def test_restore_rebuilds_the_same_snapshot() -> None:
    store = MemoryStore()
    s = state(store=store)
    s.apply(ev("p1", "post", E - HOUR_MS, author="x"))
    s.apply(ev("r1", "reply", E - HOUR_MS, author="y", target="p1"))
    s.apply(ev("d9", "delete", E - HOUR_MS, target="p7"))
    store.write(s.take_pending(42))
    before = snapshot(s)
    again = state(store=store)
    assert again.restore() == 2
    assert again.offset == 42
    assert snapshot(again) == before
    assert again.apply(ev("p7", "post", E - HOUR_MS)) == "retracted"  # the tombstone survived


def test_state_indexed_in_the_old_per_fact_layout_is_rebuilt_not_read() -> None:
    # Facts indexed by per-fact `T` keys (before the per-pane `I` index) would never expire.
    store = MemoryStore()
    s = state(store=store)
    s.apply(ev("p1", "post", E - HOUR_MS))
    writes = s.take_pending(42)
    writes[legacy_time_range(0)[0] + (E - HOUR_MS).to_bytes(8, "big") + b"t1\0p1"] = b""
    store.write(writes)
    again = state(store=store)
    assert again.restore() == 0
    assert again.offset is None  # replayed from Kafka like a partition without local state
    assert list(store.scan(*partition_range(0))) == []
    assert again.apply(ev("p1", "post", E - HOUR_MS)) == "counted"


def test_expired_facts_leave_the_store() -> None:
    store = MemoryStore()
    s = state(store=store)
    s.apply(ev("p1", "post", E - 47 * HOUR_MS))
    s.apply(ev("p2", "post", E - HOUR_MS))
    store.write(s.take_pending(None))
    s.advance(E + 2 * HOUR_MS)
    keys = [k for k, _ in store.scan(b"", b"\xff")]
    assert not any(b"p1" in k for k in keys)
    assert any(b"p2" in k for k in keys)


def test_expiry_removes_facts_and_tombstones_written_by_several_checkpoints() -> None:
    store = MemoryStore()
    s = state(store=store)
    old = E - 47 * HOUR_MS
    s.apply(ev("p1", "post", old, topic="a"))
    s.apply(ev("d1", "delete", old + 1, topic="a", target="gone"))  # before its target: a tombstone
    store.write(s.take_pending(None))
    s.apply(ev("p2", "post", old + 2, topic="b"))  # the same pane, another checkpoint
    s.apply(ev("p3", "post", E - HOUR_MS, topic="b"))
    store.write(s.take_pending(None))
    s.advance(E + 2 * HOUR_MS)
    keys = [k for k, _ in store.scan(b"", b"\xff")]
    assert not any(old_id in k for k in keys for old_id in (b"p1", b"d1", b"gone", b"p2"))
    assert any(b"p3" in k for k in keys)
    assert not s.tombstones
    assert snapshot(s, E + 2 * HOUR_MS)["b"]["posts_24h"] == 1


fact_ids = st.integers(min_value=0, max_value=14)


@st.composite
def fact_sets(draw: st.DrawFn) -> list[Event]:
    facts = []
    for i in range(draw(st.integers(min_value=1, max_value=25))):
        kind = draw(st.sampled_from(["post", "reply", "boost", "bookmark", "delete"]))
        target = f"f{draw(fact_ids)}" if kind != "post" else None
        offset = draw(st.sampled_from([0, 1, 6 * HOUR_MS, 24 * HOUR_MS, 48 * HOUR_MS])) - draw(
            st.integers(min_value=-PANE_MS, max_value=PANE_MS)
        )
        facts.append(Event(
            event_id=f"f{i}", kind=kind, topic_id=draw(st.sampled_from(["a", "b"])),
            author=draw(st.sampled_from(["u", "v", "w"])), created_at=E - offset, target_id=target,
        ))
    return facts


@settings(max_examples=150, deadline=None)
@given(facts=fact_sets(), data=st.data())
def test_any_interleaving_duplication_and_reordering_gives_the_same_snapshot(facts: list[Event], data) -> None:
    delivered = facts + data.draw(st.lists(st.sampled_from(facts), max_size=10))
    delivered = data.draw(st.permutations(delivered))
    split = data.draw(st.integers(min_value=0, max_value=len(delivered)))
    store = MemoryStore()
    s = state(store=store)
    for f in delivered[:split]:
        s.apply(f)
    store.write(s.take_pending(split))  # a checkpoint, then a restart in the middle
    s = state(store=store)
    s.restore()
    for f in delivered[split:]:
        s.apply(f)
    assert snapshot(s) == expected_rows([f for f in facts if f.created_at >= s.cutoff], E)


def test_a_fact_known_to_be_retracted_retracts_the_counted_one() -> None:
    s = state()
    s.apply(ev("p1", "post", E - HOUR_MS, author="x"))
    assert s.apply(ev("p1", "post", E - HOUR_MS, author="x"), retracted=True) == "duplicate"
    assert snapshot(s) == {}


def test_extra_windows_are_one_line_of_configuration() -> None:
    windows = window_set({"1h": 60, "7d": 10080})
    s = PartitionState(0, MemoryStore(), windows, retention_ms(windows, 0), E)
    facts = [
        ev("p1", "post", E - 30 * 60_000, author="a"),
        ev("p2", "post", E - 2 * HOUR_MS, author="b"),
        ev("b1", "boost", E - 50 * HOUR_MS, author="c", target="p0"),  # older than 48 h: only in 7d
    ]
    for f in facts:
        assert s.apply(f) == "counted"
    rows = {(w.window, w.topic_id): w for w in s.snapshot(E, ScoreWeights(), 0).window_rows}
    assert rows[("1h", "t1")].posts == 1 and rows[("1h", "t1")].window_start == E - HOUR_MS
    assert rows[("7d", "t1")].posts == 2 and rows[("7d", "t1")].boosts == 1
    assert rows[("7d", "t1")].participants == 3 and rows[("7d", "t1")].window_end == E
