"""The ingest service: the events topic into the window state, batch by batch.

Faust's agent path costs ~220 µs per event on these machines, so the hot path reads with
aiokafka's `getmany` directly. Faust still owns the application: this is a `mode.Service` started
and stopped with the faust app, next to the snapshot timer. The service is the loop and the
wiring; each concern it drives lives in its own module:

- `agents.batch_fold`: decode, validate and fold one batch, one record at a time, isolated;
- `agents.isolation`: infrastructure fault or record fault, and the bisection that finds the
  one record a whole batch fails on;
- `agents.dead_letters`: rejected records on the DLQ topic, acknowledged before their offsets
  are checkpointed;
- `agents.partition_recovery`: restoring assigned partitions (RocksDB, lost-history detection,
  app-database bootstrap);
- `agents.progress`: caught-up tracking and materialize barriers;
- `agents.ingest_gauges`: lag and state gauges, the consumer-group offset mirror.

One batch: fold it, write its dead letters and wait for their acknowledgement, then checkpoint
the facts and the next offsets in one atomic RocksDB write. A batch that fails on an
infrastructure fault is rewound and read again (what was already folded is recognised by
identity, so nothing counts twice); one that fails for any other reason is split until the
record at fault is found and dead-lettered as `unprocessable`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from agents.batch_fold import fold_records, unprocessable
from agents.control import MaterializeRequest
from agents.dead_letters import DeadLetter, DeadLetterSink, KafkaDeadLetters
from agents.ingest_gauges import IngestGauges
from agents.isolation import process_isolating
from agents.partition_recovery import AppDbLoader, PartitionRecovery
from agents.progress import Barriers, CatchUp
from broker.records import fingerprint, fingerprints_at
from broker.watermarks import high_watermarks
from config.settings import Settings
from observability.logs import log_event
from observability.metrics import StreamMetrics
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.ingest")

BATCH_RETRY_SECONDS = 1.0
CLIENT_STOP_SECONDS = 5.0

BarrierHandler = Callable[[MaterializeRequest], Awaitable[None]]


class IngestService(mode.Service):
    """Consumes the events topic in a consumer group and folds it into `StreamState`."""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        state: StreamState,
        metrics: StreamMetrics,
        *,
        state_lock: asyncio.Lock | None = None,
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
        self.on_fatal = on_fatal
        self.topic = settings.kafka.events_topic
        # Batches, rebalance callbacks, restores and the reconciliation's folds all take this lock:
        # a partition never changes hands, or gets facts from elsewhere, in the middle of a batch.
        self.lock = state_lock or asyncio.Lock()
        self.catch_up = CatchUp()
        self.caught_up = self.catch_up.caught_up
        self.barriers = Barriers(on_barrier)
        self.gauges = IngestGauges(self.topic, state, metrics)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._recovery: PartitionRecovery | None = None
        self._dead_letters: DeadLetterSink | None = None
        self._barriers_read: list[tuple[int, MaterializeRequest]] = []

    @property
    def assigned(self) -> list[int]:
        return sorted(self.stream_state.partitions)

    async def on_start(self) -> None:
        kafka = self.settings.kafka
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks="all")
        await self._producer.start()
        self._dead_letters = KafkaDeadLetters(self._producer, kafka.dlq_topic)
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
        self._recovery = PartitionRecovery(
            self.topic, self.stream_state, self._consumer, self.lock, self.catch_up,
            watermarks=lambda: high_watermarks(self.bootstrap, self.topic),
            fingerprints=lambda offsets: fingerprints_at(self.bootstrap, self.topic, offsets),
            load_from_app_db=self.load_from_app_db, on_fatal=self.on_fatal, sleep=self.sleep,
        )
        self._consumer.subscribe([self.topic], listener=_Rebalance(self))
        await self._consumer.start()

    async def on_shutdown(self) -> None:
        """After the service's tasks have stopped, so none of them uses what is closed here.

        The state is checkpointed first; the Kafka clients then get `CLIENT_STOP_SECONDS` each to
        leave the group and flush, since without a broker they would wait for it indefinitely."""
        if self._consumer is not None:
            self.stream_state.checkpoint({})
            await self.gauges.refresh(self._consumer, force=True)
            await _stop_within(self._consumer.stop(), "consumer")
        if self._producer is not None:
            await _stop_within(self._producer.stop(), "producer")

    @mode.Service.task
    async def _consume(self) -> None:
        assert self._consumer is not None and self._recovery is not None
        limit = self.settings.stream.checkpoint_max_events
        while not self.should_stop:
            await self._recovery.restore_pending()
            batch = await self._consumer.getmany(timeout_ms=200, max_records=limit)
            if batch:
                records = [record for partition_records in batch.values() for record in partition_records]
                try:
                    async with self.lock:
                        given_up = await process_isolating(records, self._process, self._give_up)
                except Exception as exc:
                    log_event(log, "trending_stream.batch_failed", level=logging.ERROR, error=repr(exc),
                              retry_in_seconds=BATCH_RETRY_SECONDS)
                    self._rewind()
                    await self._deliver_barriers()  # of the parts checkpointed before the fault
                    await self.sleep(BATCH_RETRY_SECONDS)
                    continue
                if given_up:
                    log_event(log, "trending_stream.batch_isolated", level=logging.WARNING,
                              records=len(records), dead_lettered=given_up)
                await self._deliver_barriers()
            await self._after_batch()

    async def _deliver_barriers(self) -> None:
        read, self._barriers_read = self._barriers_read, []
        await self.barriers.seen(read, self.stream_state.partitions)

    async def _process(self, records: Sequence[ConsumerRecord]) -> None:
        """Fold, dead-letter and checkpoint `records`; called under the lock, maybe on parts of a batch."""
        assert self._dead_letters is not None
        stream = self.settings.stream
        result = fold_records(self.stream_state, records, now_ms=int(time.time() * 1000),
                              max_skew_ms=stream.max_clock_skew_seconds * 1000)
        if result.rejected:
            # A dead-lettered event must be on the DLQ before its offset is checkpointed.
            await self._dead_letters.write([DeadLetter.of(record, error) for record, error in result.rejected])
        self.stream_state.checkpoint(result.next_offsets, result.last_records)
        self.metrics.add_events(result.counts)
        if result.rejected:
            self.metrics.add_dead_letters(result.dead_letter_reasons())
        self.gauges.saw_events_until(result.newest_event_time)
        self._barriers_read.extend(result.barriers)

    async def _give_up(self, record: ConsumerRecord, exc: Exception) -> None:
        """The one record a batch kept failing on: dead-letter it, then checkpoint past it."""
        assert self._dead_letters is not None
        partition = self.stream_state.partitions.get(record.partition)
        if partition is None or partition.offset is None or record.offset < partition.offset:
            return  # not a record this worker still has to fold
        log_event(log, "trending_stream.unprocessable", level=logging.ERROR, error=repr(exc)[:500],
                  source=f"{record.topic}/{record.partition}/{record.offset}")
        await self._dead_letters.write([DeadLetter.of(record, unprocessable(exc))])
        self.stream_state.checkpoint({record.partition: record.offset + 1}, {record.partition: fingerprint(record)})
        self.metrics.add_events({("invalid", "dead_lettered"): 1})
        self.metrics.add_dead_letters({"unprocessable": 1})

    def _rewind(self) -> None:
        """Read from the last checkpoint again: nothing after it was checkpointed."""
        assert self._consumer is not None
        for p, partition in self.stream_state.partitions.items():
            if partition.offset is not None:
                self._consumer.seek(TopicPartition(self.topic, p), partition.offset)

    async def _after_batch(self) -> None:
        assert self._consumer is not None and self._recovery is not None
        if await self.catch_up.check(self._consumer, self.stream_state.partitions):
            log_event(log, "trending_stream.caught_up", partitions=self.assigned,
                      active_topics=self.stream_state.active_topics)
        await self._recovery.recover_lost_history()
        await self.gauges.refresh(self._consumer)

    def on_assigned(self, partitions: Iterable[int]) -> None:
        assert self._recovery is not None
        self._recovery.on_assigned(partitions)

    def revoke(self, partitions: Iterable[int]) -> None:
        """Rebalance callback, under the lock: checkpoint, then stop tracking the partitions."""
        assert self._recovery is not None
        partitions = sorted(partitions)
        self._recovery.on_revoked(partitions)
        self.stream_state.checkpoint({})
        self.barriers.clear()
        for p in partitions:
            self.stream_state.revoke(p)
            self.catch_up.forget(p)
        log_event(log, "trending_stream.partitions_revoked", partitions=partitions)


async def _stop_within(stopping: Awaitable[None], client: str) -> None:
    try:
        await asyncio.wait_for(stopping, CLIENT_STOP_SECONDS)
    except Exception as exc:  # stopping anyway: nothing left to lose, the state is checkpointed
        log_event(log, "trending_stream.client_stop_failed", level=logging.WARNING, client=client, error=repr(exc))


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, service: IngestService) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self.service.lock:
            self.service.revoke(tp.partition for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.service.on_assigned(tp.partition for tp in assigned)
