"""The ingest service's batch step (fold, dead-letter, checkpoint) and its bisection, wired as in
the worker but with an in-memory store and a recording dead-letter sink instead of a broker."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

import agents.batch_fold
from agents.dead_letters import DeadLetter
from agents.ingest import IngestService
from agents.isolation import process_isolating
from config.settings import Settings
from observability.metrics import StreamMetrics
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, retention_ms, window_set

NOW = 1_700_000_100_000
E = NOW - NOW % 300_000
WINDOWS = window_set()


class RecordingSink:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


def service(store: MemoryStore) -> tuple[IngestService, RecordingSink, CollectorRegistry]:
    state = StreamState(store, WINDOWS, retention_ms(WINDOWS), E)
    partition = PartitionState(0, store, WINDOWS, state.retention_ms, E)
    partition.offset = 0
    state.attach(partition)
    registry = CollectorRegistry()
    ingest = IngestService(Settings(), "127.0.0.1:1", state, StreamMetrics(registry))
    sink = RecordingSink()
    ingest._dead_letters = sink
    return ingest, sink, registry


def record(offset: int, value: bytes, headers: tuple = ()) -> ConsumerRecord:
    return ConsumerRecord("events", 0, offset, NOW, 0, b"t", value, None, 1, len(value), headers)


async def test_a_record_failing_outside_the_per_record_guard_is_bisected_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A control record whose handling crashes fails every batch holding it; the batch is narrowed
    down to it, it alone is dead-lettered as unprocessable, and the partition moves past it."""
    real_control_kind = agents.batch_fold.control_kind

    def crashing_control_kind(headers: object) -> bytes | None:
        if headers == (("poison", b"1"),):
            raise AttributeError("'NoneType' object has no attribute 'decode'")
        return real_control_kind(headers)  # type: ignore[arg-type]

    monkeypatch.setattr(agents.batch_fold, "control_kind", crashing_control_kind)
    store = MemoryStore()
    ingest, sink, registry = service(store)
    events = [Event(f"p{i}", "post", "t", f"a{i}", E - HOUR_MS) for i in range(9)]
    records = [record(i, e.to_json()) for i, e in enumerate(events[:5])]
    records.append(record(5, b"{}", headers=(("poison", b"1"),)))
    records += [record(6 + i, e.to_json()) for i, e in enumerate(events[5:])]
    records.append(record(10, b"not json"))

    given_up = await process_isolating(records, ingest._process, ingest._give_up)

    assert given_up == 1
    reasons = {dict(letter.headers)["source"]: dict(letter.headers)["reason"] for letter in sink.letters}
    assert reasons == {b"events/0/5": b"unprocessable", b"events/0/10": b"invalid_json"}
    partition = ingest.stream_state.partitions[0]
    assert partition.offset == 11 and partition.pending == {}
    restored = PartitionState(0, store, WINDOWS, partition.retention_ms, E)
    assert restored.restore() == len(events) and restored.offset == 11
    assert registry.get_sample_value("kukuri_trending_dead_letters_total", {"reason": "unprocessable"}) == 1
    assert registry.get_sample_value("kukuri_trending_events_total", {"kind": "post", "result": "counted"}) >= 5
