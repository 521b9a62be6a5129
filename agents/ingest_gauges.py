"""Lag and state gauges of the ingest loop, and the consumer-group offset mirror.

The state store holds the true offsets (written with the facts); the consumer group's committed
offsets only mirror them, so `kafka-consumer-groups` and lag alerts see how far the worker is.
Both are refreshed at most every `interval_seconds`, not per batch. aiokafka's commit waits for
the group coordinator for as long as it takes, so a commit is given up after `commit_timeout_seconds`:
without a broker it would hold the ingest loop, and a worker asked to stop, indefinitely.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from aiokafka import TopicPartition

from observability.metrics import StreamMetrics
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.ingest")


class CommittingConsumer(Protocol):
    def highwater(self, partition: TopicPartition) -> int | None: ...

    async def commit(self, offsets: dict[TopicPartition, int]) -> None: ...


class IngestGauges:
    def __init__(
        self, topic: str, state: StreamState, metrics: StreamMetrics, interval_seconds: float = 5.0,
        commit_timeout_seconds: float = 5.0,
    ) -> None:
        self.topic = topic
        self.state = state
        self.metrics = metrics
        self.interval_seconds = interval_seconds
        self.commit_timeout_seconds = commit_timeout_seconds
        self.newest_event_time = 0
        self._last = 0.0

    def saw_events_until(self, created_at: int) -> None:
        self.newest_event_time = max(self.newest_event_time, created_at)

    async def refresh(self, consumer: CommittingConsumer, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval_seconds:
            return
        self._last = now
        offsets = {
            TopicPartition(self.topic, p): s.offset for p, s in self.state.partitions.items() if s.offset is not None
        }
        lags = {}
        for tp, offset in offsets.items():
            high = consumer.highwater(tp)
            if high is not None:
                lags[tp.partition] = max(high - offset, 0)
        self.metrics.set_consumer_lag(lags)
        self.metrics.set_active_topics(self.state.active_topics)
        store = self.state.store
        self.metrics.set_state_size(keys=store.approximate_keys(), size_bytes=store.approximate_size())
        if self.newest_event_time:
            self.metrics.set_event_time_lag(int(time.time() * 1000) - self.newest_event_time)
        if offsets:
            try:
                await asyncio.wait_for(consumer.commit(offsets), self.commit_timeout_seconds)
            except Exception as exc:  # a mirror only (a timeout too): the next refresh tries again
                log.debug("offset commit skipped: %r", exc)
