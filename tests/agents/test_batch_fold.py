"""One batch into the window state with per-record isolation, without a broker."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from aiokafka import ConsumerRecord

from agents.batch_fold import fold_records
from agents.control import CONTROL_HEADER, MATERIALIZE, MaterializeRequest
from agents.dead_letters import MAX_DLQ_KEY_BYTES, MAX_DLQ_VALUE_BYTES, DeadLetter
from config.settings import ScoreWeights
from streams.aggregation import PartitionState
from streams.events import Event, InvalidEvent
from streams.state_keys import encode_fact, fact_key
from streams.state_store import MemoryStore, StoreError
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, PANE_MS, retention_ms, window_set
from tests.oracle import expected_rows

NOW = 1_700_000_100_000
E = NOW - NOW % PANE_MS
WINDOWS = window_set()


def new_state(store: MemoryStore | None = None, partitions: tuple[int, ...] = (0, 1)) -> StreamState:
    """Partitions restored from `store`, starting at offset 0 where it holds none."""
    state = StreamState(store or MemoryStore(), WINDOWS, retention_ms(WINDOWS, 600_000), E)
    for p in partitions:
        partition = PartitionState(p, state.store, WINDOWS, state.retention_ms, E)
        partition.restore()
        if partition.offset is None:
            partition.offset = 0
        state.attach(partition)
    return state


def record(offset: int, value: bytes | None, *, key: bytes | None = None, partition: int = 0,
           headers: tuple = ()) -> ConsumerRecord:
    return ConsumerRecord("events", partition, offset, NOW, 0, key, value, None, 0, len(value or b""), headers)


def post(event_id: str, topic: str = "t", author: str = "a", t: int = E - HOUR_MS) -> Event:
    return Event(event_id=event_id, kind="post", topic_id=topic, author=author, created_at=t)


def rows(state: StreamState) -> dict:
    snap = state.snapshot(E, ScoreWeights(), 0)
    return {r.topic_id: {k: v for k, v in asdict(r).items() if k != "updated_at"}
            for part in snap.values() for r in part.rows}


def test_valid_events_are_folded_and_offsets_and_fingerprints_returned() -> None:
    state = new_state()
    events = [post("p1"), post("p2", author="b"), post("p1"), post("p3", topic="u")]
    records = [record(i, e.to_json(), key=e.key()) for i, e in enumerate(events)]
    result = fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
    assert result.rejected == []
    assert result.counts == {("post", "counted"): 3, ("post", "duplicate"): 1}
    assert result.next_offsets == {0: 4}
    assert result.last_records[0][0] == 3
    assert result.newest_event_time == E - HOUR_MS
    assert rows(state) == expected_rows(events, E)


def test_every_hostile_record_is_rejected_with_its_reason_and_the_rest_still_counts() -> None:
    state = new_state()
    good = [post("g1"), post("g2", author="b")]
    hostile = {
        b"not json": "invalid_json",
        b"\xff\xfe\x00": "invalid_json",
        b"[" * 100_000 + b"]" * 100_000: "invalid_json",
        b"[1]": "not_an_object",
        json.dumps({**good[0].to_dict(), "v": 9}).encode(): "unsupported_version",
        json.dumps({**good[0].to_dict(), "kind": "like"}).encode(): "unknown_kind",
        json.dumps({**good[0].to_dict(), "created_at": True}).encode(): "wrong_type",
        json.dumps({**good[0].to_dict(), "created_at": NOW + HOUR_MS}).encode(): "future_timestamp",
        json.dumps({**good[0].to_dict(), "author": ""}).encode(): "bad_value",
    }
    records = [record(0, good[0].to_json())]
    records += [record(i + 1, raw) for i, raw in enumerate(hostile)]
    records.append(record(len(records), good[1].to_json()))
    records.append(record(len(records), post("g3", topic="other").to_json(), key=b"t"))  # key mismatch
    records.append(record(len(records), None))
    result = fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
    reasons = [error.reason for _, error in result.rejected]
    assert reasons == [*hostile.values(), "key_mismatch", "invalid_json"]
    assert result.counts[("invalid", "dead_lettered")] == len(reasons)
    assert result.next_offsets == {0: len(records)}
    assert rows(state) == expected_rows(good, E)


def test_a_record_whose_fold_raises_is_unprocessable_and_the_partition_moves_on() -> None:
    store = MemoryStore()
    state = new_state(store)
    store.write({fact_key(0, "t", "victim"): b"garbage"})  # a stored record nothing can decode
    delete = Event(event_id="d1", kind="delete", topic_id="t", author="m", created_at=E - 60_000, target_id="victim")
    events = [post("a1"), delete, post("a2", author="b")]
    result = fold_records(state, [record(i, e.to_json()) for i, e in enumerate(events)], now_ms=NOW,
                          max_skew_ms=300_000)
    ((bad, error),) = result.rejected
    assert bad.offset == 1 and error.reason == "unprocessable" and "error" in error.detail
    assert rows(state) == expected_rows([events[0], events[2]], E)
    assert result.counts == {("post", "counted"): 2, ("invalid", "dead_lettered"): 1}
    assert result.newest_event_time == events[0].created_at  # not the later one whose fold raised
    # The failed fold left nothing behind: once the record is repaired, the same delete counts.
    state.checkpoint(result.next_offsets)
    store.write({fact_key(0, "t", "victim"): encode_fact("post", False, E - HOUR_MS, "v", "")})
    assert state.partitions[0].apply(delete) == "counted"


def test_a_store_fault_fails_the_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    state = new_state()

    def broken(keys: object) -> list:
        raise StoreError("disk gone")

    monkeypatch.setattr(state.store, "get_many", broken)
    with pytest.raises(StoreError):
        fold_records(state, [record(0, post("p1").to_json())], now_ms=NOW, max_skew_ms=300_000)


def test_records_of_other_or_already_folded_partitions_are_skipped() -> None:
    state = new_state(partitions=(0,))
    state.partitions[0].offset = 5
    records = [record(4, post("old").to_json()), record(5, post("new").to_json()),
               record(0, post("elsewhere").to_json(), partition=3)]
    result = fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
    assert result.counts == {("post", "counted"): 1}
    assert result.next_offsets == {0: 6}


def test_barriers_are_read_and_unreadable_control_records_ignored() -> None:
    state = new_state()
    request = MaterializeRequest("r1", E, NOW)
    control = ((CONTROL_HEADER, MATERIALIZE),)
    records = [record(0, request.encode(), headers=control), record(1, b"garbage", headers=control),
               record(0, request.encode(), headers=control, partition=1)]
    result = fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
    assert result.barriers == [(0, request), (1, request)]
    assert result.rejected == [] and result.next_offsets == {0: 2, 1: 1}


def test_prefetched_identities_give_the_same_state_as_single_reads() -> None:
    """Duplicates across batches, deletes before and after their targets, through the multi-get."""
    events = [post("p1"), post("p2", author="b"),
              Event("d1", "delete", "t", "a", E - 10 * 60_000, "p1"),
              Event("d2", "delete", "t", "c", E - 10 * 60_000, "b1"),
              Event("b1", "boost", "t", "c", E - 2 * HOUR_MS, "p2"),
              Event("k1", "bookmark", "t", "d", E - 2 * HOUR_MS, "p2")]
    store = MemoryStore()
    state = new_state(store)
    offset = 0
    for chunk in (events[:2], events[2:4], events[:3], events[3:]):
        records = [record(offset + i, e.to_json()) for i, e in enumerate(chunk)]
        offset += len(chunk)
        result = fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
        state.checkpoint(result.next_offsets, result.last_records)
    assert rows(state) == expected_rows(events, E)
    restored = new_state(store)
    assert restored.partitions[0].offset == offset
    assert rows(restored) == expected_rows(events, E)


def test_dead_letters_are_bounded_and_say_where_the_original_is() -> None:
    big = record(7, b"x" * (MAX_DLQ_VALUE_BYTES + 10), key=b"k" * (MAX_DLQ_KEY_BYTES + 1))
    letter = DeadLetter.of(big, InvalidEvent("invalid_json", "y" * 2000))
    headers = dict(letter.headers)
    assert len(letter.value) == MAX_DLQ_VALUE_BYTES and letter.key is not None and len(letter.key) == MAX_DLQ_KEY_BYTES
    assert headers["reason"] == b"invalid_json" and len(headers["detail"]) == 512
    assert headers["source"] == b"events/0/7"
    assert headers["truncated_from"] == str(MAX_DLQ_VALUE_BYTES + 10).encode()
    assert headers["key_truncated_from"] == str(MAX_DLQ_KEY_BYTES + 1).encode()


def test_the_position_a_snapshot_claims_covers_a_batch_folded_but_not_checkpointed() -> None:
    """A batch that fails after its fold (the dead-letter write, say) is read again, but memory
    already holds it: a snapshot taken meanwhile must not claim to reflect less than it does."""
    state = new_state(partitions=(0,))
    records = [record(i, post(f"p{i}").to_json(), key=b"t") for i in range(5)]
    fold_records(state, records, now_ms=NOW, max_skew_ms=300_000)
    assert state.partitions[0].offset == 0 and state.positions([0])[0].next_offset == 5
    state.checkpoint({0: 5})
    fold_records(state, records[:3], now_ms=NOW, max_skew_ms=300_000)  # already folded: skipped
    assert state.partitions[0].offset == 5 and state.positions([0])[0].next_offset == 5
