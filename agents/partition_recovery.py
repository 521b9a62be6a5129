"""Partition recovery: restore what a partition held, and notice when the broker lost its history.

The events topic is the state's changelog. A partition assigned to this worker is paused by the
rebalance callback (`on_assigned`, which must not block the group's heartbeats) and restored from
the consume loop (`restore_pending`):

- local state (RocksDB) is loaded and the partition resumes at its stored offset;
- without local state it is replayed from the start of the partition;
- when the broker no longer holds what the state consumed (stored offset beyond the true high
  watermark, the record at the stored offset is not the one consumed there, the start of the log
  was trimmed, or the broker is a new incarnation), local state is dropped and the partition is
  bootstrapped from the app database first, then replayed; identity dedupe makes the overlap
  harmless.

`recover_lost_history` notices a broker that restarted empty under a running worker (the fetch
high watermark falls below the stored offset) and sends such partitions through the same path.
Everything runs under the worker's state lock, shared with batches and the reconciliation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from aiokafka import TopicPartition

from agents.progress import CatchUp
from broker.records import Fingerprint
from observability.logs import log_event
from streams.aggregation import PartitionState
from streams.stream_state import StreamState

log = logging.getLogger("kukuri_trending.ingest")

ASSIGN_ATTEMPTS = 3

AppDbLoader = Callable[[PartitionState], Awaitable[int]]
"""Loads a partition's facts from the app database into the state; returns how many."""
Watermarks = Callable[[], Awaitable[dict[int, int]]]
"""The true high watermark of every partition of the events topic."""
Fingerprints = Callable[[dict[int, int]], Awaitable[dict[int, Fingerprint | None]]]
"""The fingerprint of the record at each given partition's offset (None: no such record)."""


class RecoveryConsumer(Protocol):
    """What recovery needs of the consumer (an `AIOKafkaConsumer`, or a fake in tests)."""

    def assignment(self) -> set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]: ...


class PartitionRecovery:
    def __init__(
        self,
        topic: str,
        state: StreamState,
        consumer: RecoveryConsumer,
        lock: asyncio.Lock,
        catch_up: CatchUp,
        *,
        watermarks: Watermarks,
        fingerprints: Fingerprints,
        load_from_app_db: AppDbLoader | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.topic = topic
        self.state = state
        self.consumer = consumer
        self.lock = lock
        self.catch_up = catch_up
        self.watermarks = watermarks
        self.fingerprints = fingerprints
        self.load_from_app_db = load_from_app_db
        self.on_fatal = on_fatal
        self.sleep = sleep
        self.to_restore: set[int] = set()
        # Partitions whose history is known lost. Remembered across retries: once the disk state is
        # cleared, nothing else would say that the partition must be rebuilt from the app database.
        self.lost: set[int] = set()
        self.failures = 0

    def _tp(self, partition: int) -> TopicPartition:
        return TopicPartition(self.topic, partition)

    def on_assigned(self, partitions: Iterable[int]) -> None:
        """Rebalance callback: pause new partitions; `restore_pending` restores them.

        Restoring can take a while (state, watermarks, the app database); inside the callback it
        would hold up the group's heartbeats, so the callback only pauses and remembers.
        """
        new = sorted(p for p in partitions if p not in self.state.partitions)
        if new:
            self.to_restore.update(new)
            self.catch_up.reset()
            self.consumer.pause(*(self._tp(p) for p in new))

    def on_revoked(self, partitions: Iterable[int]) -> None:
        """Rebalance callback, under the lock: stop tracking partitions (their checkpointed facts stay)."""
        self.to_restore.difference_update(partitions)

    async def restore_pending(self) -> None:
        """Restore paused partitions, then resume them. Failures are retried; after ASSIGN_ATTEMPTS
        in a row `on_fatal` is called, so the worker stops and the group hands them to another."""
        if not self.to_restore:
            return
        async with self.lock:
            owned = {tp.partition for tp in self.consumer.assignment()}
            self.to_restore &= owned
            try:
                if self.to_restore:
                    watermarks = await self.watermarks()
                    for p in sorted(self.to_restore):
                        if p not in self.state.partitions:
                            await self.restore(p, watermarks.get(p, 0), check_log=True)
                        self.to_restore.discard(p)
                        self.consumer.resume(self._tp(p))
                self.failures = 0
                return
            except Exception as exc:
                self.failures += 1
                log_event(log, "trending_stream.assign_failed", level=logging.ERROR, error=repr(exc),
                          attempt=self.failures, partitions=sorted(self.to_restore))
        if self.failures >= ASSIGN_ATTEMPTS and self.on_fatal is not None:
            self.on_fatal(RuntimeError(f"could not restore partitions {sorted(self.to_restore)}"))
        await self.sleep(self.failures)

    async def restore(self, p: int, high: int, *, check_log: bool = False) -> None:
        """Load a partition, then make it visible and seek it in one synchronous step.

        All awaiting (app-database loads, offset lookups) happens before the partition is attached,
        so the consume loop never folds records of a partition whose position is not settled.
        """
        tp = self._tp(p)
        started = time.monotonic()
        partition = await self.state.load(p)
        lost = p in self.lost or (partition.offset is not None and partition.offset > high)
        if not lost and check_log and partition.fingerprint is not None:
            # Same offsets, other log? (a memory-only broker that restarted and refilled)
            found = await self.fingerprints({p: partition.fingerprint[0]})
            lost = found.get(p) != partition.fingerprint
        if lost:
            self.lost.add(p)
            log_event(log, "trending_stream.state_reset", level=logging.WARNING, partition=p,
                      stored_offset=partition.offset, high_watermark=high,
                      reason="the broker holds fewer records than the state has consumed")
            partition.clear()
        loaded = 0
        if lost or (partition.offset is None and self.state.history_lost):
            # Offsets start again in the new log: snapshot positions of the old one must not hold
            # this partition's parts back (sinks.storage.snapshots).
            partition.start_lineage(int(time.time() * 1000))
        if partition.offset is None and self.load_from_app_db is not None and (
            lost or self.state.history_lost or await self._history_trimmed(tp)
        ):
            loaded = await self.load_from_app_db(partition)
        if partition.offset is None:
            partition.offset = (await self.consumer.beginning_offsets([tp])).get(tp, 0)
        self.state.attach(partition)
        self.lost.discard(p)
        self.catch_up.expect(p, high, partition.offset)
        self.consumer.seek(tp, partition.offset)
        log_event(log, "trending_stream.partition_assigned", partition=p, offset=partition.offset,
                  high_watermark=high, loaded_from_app_db=loaded, active_topics=partition.active_topics,
                  restore_ms=int((time.monotonic() - started) * 1000))

    async def recover_lost_history(self) -> None:
        """A broker that restarted empty under a running worker: its fetches report a high watermark
        below what the state has consumed. Such partitions are reset and rebuilt (from the app
        database) instead of waiting for offsets that will never come back."""
        for p, partition in list(self.state.partitions.items()):
            if not self._behind_broker(p, partition):
                continue
            async with self.lock:
                # Checked again under the lock: a rebalance may have moved the partition meanwhile.
                if (self.state.partitions.get(p) is not partition or self._tp(p) not in self.consumer.assignment()
                        or not self._behind_broker(p, partition)):
                    continue
                self.state.revoke(p)
                self.lost.add(p)
                self.on_assigned([p])

    def _behind_broker(self, p: int, partition: PartitionState) -> bool:
        high = self.consumer.highwater(self._tp(p))
        return high is not None and partition.offset is not None and high < partition.offset

    async def _history_trimmed(self, tp: TopicPartition) -> bool:
        """True when retention already removed the start of the partition."""
        beginning = await self.consumer.beginning_offsets([tp])
        return beginning.get(tp, 0) > 0
