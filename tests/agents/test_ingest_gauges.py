"""Lag and state gauges and the consumer-group offset mirror, with a fake consumer."""

from __future__ import annotations

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from agents.ingest_gauges import IngestGauges
from observability.metrics import StreamMetrics
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, retention_ms, window_set

E = 1_700_000_100_000 - 1_700_000_100_000 % 300_000
WINDOWS = window_set()


class FakeConsumer:
    def __init__(self, highwaters: dict[int, int], fail: bool = False) -> None:
        self.highwaters = highwaters
        self.fail = fail
        self.commits: list[dict[TopicPartition, int]] = []

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.highwaters.get(partition.partition)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.fail:
            raise RuntimeError("not the group's generation any more")
        self.commits.append(offsets)


def state_with(offsets: dict[int, int]) -> StreamState:
    state = StreamState(MemoryStore(), WINDOWS, retention_ms(WINDOWS), E)
    for p, offset in offsets.items():
        partition = PartitionState(p, state.store, WINDOWS, state.retention_ms, E)
        partition.offset = offset
        partition.apply(Event(f"p{p}", "post", f"topic{p}", "a", E - HOUR_MS))
        state.attach(partition)
    return state


async def test_refresh_publishes_lag_and_state_and_mirrors_offsets_at_most_every_interval() -> None:
    registry = CollectorRegistry()
    gauges = IngestGauges("events", state_with({0: 10, 1: 4}), StreamMetrics(registry), interval_seconds=60)
    consumer = FakeConsumer({0: 25, 1: 4})
    gauges.saw_events_until(E - HOUR_MS)
    await gauges.refresh(consumer)

    def sample(name: str, labels: dict[str, str] | None = None) -> float | None:
        return registry.get_sample_value(name, labels or {})

    assert sample("kukuri_trending_consumer_lag_messages", {"partition": "0"}) == 15
    assert sample("kukuri_trending_consumer_lag_messages", {"partition": "1"}) == 0
    assert sample("kukuri_trending_active_topics") == 2
    event_lag = sample("kukuri_trending_event_time_lag_ms")
    assert event_lag is not None and event_lag >= HOUR_MS
    assert consumer.commits == [{TopicPartition("events", 0): 10, TopicPartition("events", 1): 4}]

    await gauges.refresh(consumer)  # within the interval: nothing
    assert len(consumer.commits) == 1
    await gauges.refresh(consumer, force=True)
    assert len(consumer.commits) == 2


async def test_a_failed_offset_mirror_is_not_an_error_and_the_gauges_still_update() -> None:
    registry = CollectorRegistry()
    gauges = IngestGauges("events", state_with({0: 3}), StreamMetrics(registry))
    consumer = FakeConsumer({0: 7}, fail=True)
    await gauges.refresh(consumer, force=True)
    assert consumer.commits == []
    assert registry.get_sample_value("kukuri_trending_consumer_lag_messages", {"partition": "0"}) == 4
    assert registry.get_sample_value("kukuri_trending_active_topics") == 1
