"""The ingest service: Kafka batches into the window state, at tens of thousands of events a second.

Faust's agent path costs ~220 µs per event on these machines (under 4,500 events/s before any
state is touched), so the hot path reads with aiokafka's `getmany` directly: a batch of up to
`checkpoint_max_events` records is decoded, folded into the state and checkpointed together with
its offsets in one RocksDB write. Faust still owns the application: this is a `mode.Service`
started and stopped with the faust app, next to the snapshot timer.

The events topic is also the state's changelog: a partition that arrives without local state is
replayed from Kafka (and, when the broker no longer holds the history, from the app database).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from agents.control import MATERIALIZE, MaterializeRequest, control_kind, decode_materialize
from broker.records import Fingerprint, fingerprint, fingerprints_at
from broker.watermarks import high_watermarks
from config.settings import Settings
from observability.logs import log_event
from observability.metrics import StreamMetrics
from streams.aggregation import PartitionState
from streams.events import InvalidEvent, parse_event
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.ingest")

BATCH_RETRY_SECONDS = 1.0
ASSIGN_ATTEMPTS = 3
MAX_DLQ_VALUE_BYTES = 512 * 1024

AppDbLoader = Callable[[PartitionState], Awaitable[int]]
"""Loads a partition's facts from the app database into the state; returns how many."""

BarrierHandler = Callable[[MaterializeRequest], Awaitable[None]]


@dataclass
class _Barrier:
    request: MaterializeRequest
    seen: set[int] = field(default_factory=set)


class IngestService(mode.Service):
    """Consumes the events topic in a consumer group and folds it into `StreamState`."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        state: StreamState,
        metrics: StreamMetrics,
        *,
        load_from_app_db: AppDbLoader | None = None,
        on_barrier: BarrierHandler | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.bootstrap = bootstrap
        self.stream_state = state
        self.metrics = metrics
        self.load_from_app_db = load_from_app_db
        self.on_barrier = on_barrier
        self.on_fatal = on_fatal
        self.topic = settings.kafka.events_topic
        self.caught_up = asyncio.Event()
        self._catch_up_targets: dict[int, int] = {}
        self._barriers: dict[str, _Barrier] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._last_commit = 0.0
        self._newest_event_time = 0
        self._lock = asyncio.Lock()
        self._to_restore: set[int] = set()
        self._lost: set[int] = set()
        self._restore_failures = 0

    @property
    def assigned(self) -> list[int]:
        return sorted(self.stream_state.partitions)

    async def on_start(self) -> None:
        kafka = self.settings.kafka
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks="all")
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=kafka.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(kafka.session_timeout_seconds * 1000),
            heartbeat_interval_ms=int(kafka.heartbeat_interval_seconds * 1000),
            fetch_max_wait_ms=100,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        self._consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self._consumer.start()

    async def on_shutdown(self) -> None:
        """After the service's tasks have stopped, so none of them uses what is closed here."""
        if self._consumer is not None:
            self.stream_state.checkpoint({})
            await self._commit(force=True)
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    @mode.Service.task
    async def _consume(self) -> None:
        assert self._consumer is not None
        limit = self.settings.stream.checkpoint_max_events
        while not self.should_stop:
            if self._to_restore:
                await self._restore_pending()
            batch = await self._consumer.getmany(timeout_ms=200, max_records=limit)
            if batch:
                try:
                    # Rebalance callbacks take the same lock: a partition never changes hands in
                    # the middle of a batch (aiokafka runs them concurrently with this task).
                    async with self._lock:
                        barriers = await self._process(batch)
                except Exception as exc:
                    # The batch is not checkpointed: rewind and read it again. What was already
                    # folded in is recognised by identity, so nothing counts twice.
                    log_event(log, "trending_stream.batch_failed", level=logging.ERROR, error=repr(exc),
                              retry_in_seconds=BATCH_RETRY_SECONDS)
                    self._rewind()
                    await self.sleep(BATCH_RETRY_SECONDS)
                    continue
                for partition_id, request in barriers:
                    await self._barrier_seen(partition_id, request)
            await self._after_batch()

    def _rewind(self) -> None:
        assert self._consumer is not None
        for p, state in self.stream_state.partitions.items():
            if state.offset is not None:
                self._consumer.seek(TopicPartition(self.topic, p), state.offset)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> list[tuple[int, MaterializeRequest]]:
        assert self._producer is not None
        now = int(time.time() * 1000)
        skew = self.settings.stream.max_clock_skew_seconds * 1000
        counts: Counter[tuple[str, str]] = Counter()
        dead: Counter[str] = Counter()
        pending_dlq = []
        next_offsets: dict[int, int] = {}
        last_records: dict[int, Fingerprint] = {}
        barriers: list[tuple[int, MaterializeRequest]] = []
        newest = self._newest_event_time
        for tp, records in batch.items():
            partition = self.stream_state.partitions.get(tp.partition)
            if partition is None or partition.offset is None:
                continue
            # aiokafka drops fetches made before a seek; this only guards against re-reading
            # records the state already holds.
            records = [r for r in records if r.offset >= partition.offset]
            if not records:
                continue
            for record in records:
                kind = control_kind(record.headers)
                if kind is not None:
                    request = decode_materialize(record.value) if kind == MATERIALIZE else None
                    if request is not None:
                        barriers.append((tp.partition, request))
                    continue
                try:
                    event = parse_event(record.value, now_ms=now, max_skew_ms=skew)
                    if record.key is not None and record.key != event.key():
                        raise InvalidEvent("key_mismatch", "the Kafka key must be the topic_id")
                    result = partition.apply(event)
                except (InvalidEvent, ValueError, TypeError, KeyError) as exc:
                    # What one record carries must not stop the partition: anything that is not a
                    # contract violation is dead-lettered as unprocessable, with why. (Store and
                    # I/O errors are not caught here: they fail the batch, which is retried.)
                    if not isinstance(exc, InvalidEvent):
                        log_event(log, "trending_stream.unprocessable", level=logging.ERROR, error=repr(exc),
                                  source=f"{tp.topic}/{tp.partition}/{record.offset}")
                        exc = InvalidEvent("unprocessable", repr(exc))
                    dead[exc.reason] += 1
                    counts[("invalid", "dead_lettered")] += 1
                    value = record.value or b""
                    headers = [
                        ("reason", exc.reason.encode()),
                        ("detail", exc.detail.encode(errors="replace")[:512]),
                        ("source", f"{tp.topic}/{tp.partition}/{record.offset}".encode()),
                    ]
                    if len(value) > MAX_DLQ_VALUE_BYTES:
                        # Too big to forward whole: keep the head and say so (the source header
                        # still points at the original in the events topic).
                        headers.append(("truncated_from", str(len(value)).encode()))
                        value = value[:MAX_DLQ_VALUE_BYTES]
                    pending_dlq.append(await self._producer.send(
                        self.settings.kafka.dlq_topic, value=value, key=record.key, headers=headers,
                    ))
                    continue
                counts[(event.kind, result)] += 1
                newest = max(newest, event.created_at)
            next_offsets[tp.partition] = records[-1].offset + 1
            last_records[tp.partition] = fingerprint(records[-1])
        if pending_dlq:
            # A dead-lettered event must be on the DLQ before its offset is checkpointed.
            await asyncio.gather(*pending_dlq)
        self.stream_state.checkpoint(next_offsets, last_records)
        self._newest_event_time = newest
        self.metrics.add_events(counts)  # type: ignore[arg-type]
        if dead:
            self.metrics.add_dead_letters(dead)  # type: ignore[arg-type]
        return barriers

    async def _barrier_seen(self, partition: int, request: MaterializeRequest) -> None:
        if request.expired(int(time.time() * 1000)):
            return  # replayed from the log; nobody is waiting for it any more
        barrier = self._barriers.setdefault(request.request_id, _Barrier(request))
        barrier.seen.add(partition)
        if barrier.seen >= set(self.stream_state.partitions) and self.on_barrier is not None:
            del self._barriers[request.request_id]
            await self.on_barrier(request)

    async def _after_batch(self) -> None:
        assert self._consumer is not None
        if not self.caught_up.is_set():
            assignment = self._consumer.assignment()
            done = bool(assignment)
            for tp in assignment:
                target = self._catch_up_targets.get(tp.partition)
                if target is None or tp.partition not in self.stream_state.partitions:
                    done = False
                    break
                done = done and await self._consumer.position(tp) >= target
            if done:
                self.caught_up.set()
                log_event(log, "trending_stream.caught_up", partitions=self.assigned,
                          active_topics=self.stream_state.active_topics)
        await self._recover_lost_history()
        await self._commit()

    async def _commit(self, force: bool = False) -> None:
        """Mirror our offsets into the consumer group, for lag monitoring (the store is the truth)."""
        assert self._consumer is not None
        now = time.monotonic()
        if not force and now - self._last_commit < 5:
            return
        self._last_commit = now
        offsets = {
            TopicPartition(self.topic, p): s.offset for p, s in self.stream_state.partitions.items() if s.offset is not None
        }
        lags = {}
        for tp, offset in offsets.items():
            high = self._consumer.highwater(tp)
            if high is not None:
                lags[tp.partition] = max(high - offset, 0)
        self.metrics.set_consumer_lag(lags)
        self.metrics.set_active_topics(self.stream_state.active_topics)
        store = self.stream_state.store
        self.metrics.set_state_size(keys=store.approximate_keys(), size_bytes=store.approximate_size())
        if self._newest_event_time:
            self.metrics.set_event_time_lag(int(time.time() * 1000) - self._newest_event_time)
        if offsets:
            try:
                await self._consumer.commit(offsets)
            except Exception as exc:
                log.debug("offset commit skipped: %r", exc)

    def on_assigned(self, partitions: Iterable[int]) -> None:
        """Rebalance callback: pause new partitions and restore them from the consume loop.

        Restoring can take a while (state, watermarks, the app database); inside the callback it
        would hold up the group's heartbeats, so the callback only pauses and remembers.
        """
        assert self._consumer is not None
        new = sorted(p for p in partitions if p not in self.stream_state.partitions)
        if new:
            self._to_restore.update(new)
            self.caught_up.clear()
            self._consumer.pause(*(TopicPartition(self.topic, p) for p in new))

    async def _restore_pending(self) -> None:
        """Restore paused partitions, then resume them. Failures are retried; after
        ASSIGN_ATTEMPTS in a row the worker stops, so the group hands the partitions to another."""
        assert self._consumer is not None
        async with self._lock:
            owned = {tp.partition for tp in self._consumer.assignment()}
            self._to_restore &= owned
            try:
                if self._to_restore:
                    watermarks = await high_watermarks(self.bootstrap, self.topic)
                    for p in sorted(self._to_restore):
                        if p not in self.stream_state.partitions:
                            await self._restore(p, watermarks.get(p, 0), check_log=True)
                        self._to_restore.discard(p)
                        self._consumer.resume(TopicPartition(self.topic, p))
                self._restore_failures = 0
                return
            except Exception as exc:
                self._restore_failures += 1
                log_event(log, "trending_stream.assign_failed", level=logging.ERROR, error=repr(exc),
                          attempt=self._restore_failures, partitions=sorted(self._to_restore))
        if self._restore_failures >= ASSIGN_ATTEMPTS and self.on_fatal is not None:
            self.on_fatal(RuntimeError(f"could not restore partitions {sorted(self._to_restore)}"))
        await self.sleep(self._restore_failures)

    async def _restore(self, p: int, high: int, *, history_lost: bool = False, check_log: bool = False) -> None:
        """Load a partition, then make it visible and seek it in one synchronous step.

        All awaiting (app-database loads, offset lookups) happens before the partition is attached,
        so the consume loop never folds records of a partition whose position is not settled.
        """
        assert self._consumer is not None
        tp = TopicPartition(self.topic, p)
        started = time.monotonic()
        state = await self.stream_state.load(p)
        # `_lost` remembers a reset across retries: once the disk state is cleared, nothing else
        # would say that this partition must be rebuilt from the app database.
        lost = history_lost or p in self._lost or (state.offset is not None and state.offset > high)
        if not lost and check_log and state.fingerprint is not None:
            # Same offsets, other log? (a memory-only broker that restarted and refilled)
            found = await fingerprints_at(self.bootstrap, self.topic, {p: state.fingerprint[0]})
            lost = found.get(p) != state.fingerprint
        if lost:
            self._lost.add(p)
            log_event(log, "trending_stream.state_reset", level=logging.WARNING, partition=p,
                      stored_offset=state.offset, high_watermark=high,
                      reason="the broker holds fewer records than the state has consumed")
            state.clear()
        loaded = 0
        if state.offset is None and self.load_from_app_db is not None and (
            lost or self.stream_state.history_lost or await self._history_trimmed(tp)
        ):
            loaded = await self.load_from_app_db(state)
        if state.offset is None:
            state.offset = (await self._consumer.beginning_offsets([tp])).get(tp, 0)
        self.stream_state.attach(state)
        self._lost.discard(p)
        self._catch_up_targets[p] = high
        if state.offset < high:
            # Snapshots wait until this partition has replayed what the broker holds: a snapshot
            # from half-rebuilt state would look complete and be wrong.
            self.caught_up.clear()
        self._consumer.seek(tp, state.offset)
        log_event(log, "trending_stream.partition_assigned", partition=p, offset=state.offset,
                  high_watermark=high, loaded_from_app_db=loaded, active_topics=state.active_topics,
                  restore_ms=int((time.monotonic() - started) * 1000))

    async def _recover_lost_history(self) -> None:
        """A broker that restarted empty under a running worker: its fetches report a high watermark
        below what the state has consumed. Such partitions are reset and rebuilt (from the app
        database) instead of waiting for offsets that will never come back."""
        assert self._consumer is not None
        for p, state in list(self.stream_state.partitions.items()):
            tp = TopicPartition(self.topic, p)
            high = self._consumer.highwater(tp)
            if high is None or state.offset is None or high >= state.offset:
                continue
            async with self._lock:
                # Checked again under the lock: a rebalance may have moved the partition meanwhile.
                high = self._consumer.highwater(tp)
                if (self.stream_state.partitions.get(p) is not state or tp not in self._consumer.assignment()
                        or high is None or state.offset is None or high >= state.offset):
                    continue
                self.stream_state.revoke(p)
                self._lost.add(p)
                self.on_assigned([p])

    async def _history_trimmed(self, tp: TopicPartition) -> bool:
        """True when retention already removed the start of the partition."""
        assert self._consumer is not None
        beginning = await self._consumer.beginning_offsets([tp])
        return beginning.get(tp, 0) > 0

    def revoke(self, partitions: Iterable[int]) -> None:
        partitions = sorted(partitions)
        self._to_restore.difference_update(partitions)
        self.stream_state.checkpoint({})
        self._barriers.clear()  # their partition sets no longer match; the requester will time out
        for p in partitions:
            self.stream_state.revoke(p)
            self._catch_up_targets.pop(p, None)
        log_event(log, "trending_stream.partitions_revoked", partitions=partitions)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.service._lock:
            self.service.revoke(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.on_assigned(tp.partition for tp in assigned)

