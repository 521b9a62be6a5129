"""Partition recovery with a fake consumer: restore, lost-history detection, app-database bootstrap."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from agents.control import MaterializeRequest
from agents.partition_recovery import ASSIGN_ATTEMPTS, PartitionRecovery
from agents.progress import Barriers, CatchUp
from broker.embedded import BrokerError
from broker.records import Fingerprint
from config.settings import ScoreWeights
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, PANE_MS, retention_ms, window_set

TOPIC = "events"
E = 1_700_000_100_000 - 1_700_000_100_000 % PANE_MS
WINDOWS = window_set()


class FakeConsumer:
    """The consumer calls recovery makes, recorded; offsets and watermarks set by the test."""

    def __init__(self, partitions: set[int], beginning: int = 0) -> None:
        self.assigned = {TopicPartition(TOPIC, p) for p in partitions}
        self.paused: set[int] = set()
        self.positions: dict[int, int] = {}
        self.highwaters: dict[int, int] = {}
        self.beginning = beginning

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(tp.partition for tp in partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(tp.partition for tp in partitions)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition.partition] = offset

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.highwaters.get(partition.partition)

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.beginning for tp in partitions}

    async def position(self, partition: TopicPartition) -> int:
        return self.positions[partition.partition]


class Broker:
    """Watermarks and the fingerprints of the records the broker holds."""

    def __init__(self, watermarks: dict[int, int], records: dict[tuple[int, int], Fingerprint] | None = None) -> None:
        self.marks = watermarks
        self.records = records or {}
        self.failures = 0

    async def watermarks(self) -> dict[int, int]:
        if self.failures:
            self.failures -= 1
            raise BrokerError("no fetch response")
        return dict(self.marks)

    async def fingerprints(self, offsets: dict[int, int]) -> dict[int, Fingerprint | None]:
        return {p: self.records.get((p, o)) for p, o in offsets.items()}


class AppDb:
    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.loads: list[int] = []

    async def load(self, partition: PartitionState) -> int:
        self.loads.append(partition.partition)
        return sum(partition.apply(e) == "counted" for e in self.events)


def stored_state(store: MemoryStore, partition: int, offset: int, fingerprint: Fingerprint | None = None) -> None:
    """What a previous run left on disk: one fact and a checkpoint at `offset`."""
    state = PartitionState(partition, store, WINDOWS, retention_ms(WINDOWS), E)
    state.apply(Event("old", "post", "t", "a", E - HOUR_MS))
    store.write(state.take_pending(offset, fingerprint))


def recovery(store: MemoryStore, consumer: FakeConsumer, broker: Broker, app_db: AppDb | None = None,
             fatal: list[BaseException] | None = None, history_lost: bool = False) -> PartitionRecovery:
    state = StreamState(store, WINDOWS, retention_ms(WINDOWS), E)
    state.history_lost = history_lost

    async def no_sleep(seconds: float) -> None:
        return None

    return PartitionRecovery(TOPIC, state, consumer, asyncio.Lock(), CatchUp(), watermarks=broker.watermarks,
                             fingerprints=broker.fingerprints, load_from_app_db=app_db.load if app_db else None,
                             on_fatal=(fatal.append if fatal is not None else None), sleep=no_sleep)


async def test_assignment_pauses_and_the_loop_restores_a_fresh_partition_from_the_beginning() -> None:
    consumer = FakeConsumer({0, 1})
    r = recovery(MemoryStore(), consumer, Broker({0: 10, 1: 0}), AppDb([]))
    r.on_assigned([0, 1])
    assert consumer.paused == {0, 1} and not r.catch_up.caught_up.is_set()
    await r.restore_pending()
    assert consumer.paused == set() and consumer.positions == {0: 0, 1: 0}
    assert sorted(r.state.partitions) == [0, 1]
    assert r.catch_up.targets == {0: 10, 1: 0}
    assert await r.catch_up.check(consumer, r.state.partitions) is False  # partition 0 must replay 10 records
    consumer.positions[0] = 10
    assert await r.catch_up.check(consumer, r.state.partitions) is True


async def test_local_state_resumes_at_its_checkpoint_when_the_broker_holds_the_same_log() -> None:
    store = MemoryStore()
    stored_state(store, 0, 5, (4, 111, 222))
    app_db = AppDb([Event("db", "post", "t", "b", E - HOUR_MS)])
    r = recovery(store, FakeConsumer({0}), Broker({0: 8}, {(0, 4): (4, 111, 222)}), app_db)
    r.on_assigned([0])
    await r.restore_pending()
    assert r.consumer.positions == {0: 5}  # type: ignore[attr-defined]
    assert r.state.partitions[0].active_topics == 1 and app_db.loads == []
    assert r.state.partitions[0].lineage_since == 0  # the same log: its offsets still compare


@pytest.mark.parametrize(
    ("watermark", "held", "why"),
    [
        (3, {(0, 4): (4, 111, 222)}, "the stored offset is beyond the broker's end"),
        (8, {(0, 4): (4, 999, 333)}, "another record sits at the stored offset"),
        (8, {}, "no record at the stored offset"),
    ],
)
async def test_lost_history_drops_local_state_and_bootstraps_from_the_app_db(
    watermark: int, held: dict, why: str
) -> None:
    store = MemoryStore()
    stored_state(store, 0, 5, (4, 111, 222))
    app_db = AppDb([Event("db", "post", "t", "b", E - HOUR_MS)])
    r = recovery(store, FakeConsumer({0}), Broker({0: watermark}, held), app_db)
    r.on_assigned([0])
    await r.restore_pending()
    assert app_db.loads == [0], why
    assert r.consumer.positions == {0: 0}  # type: ignore[attr-defined]
    rows = r.state.partitions[0].snapshot(E, ScoreWeights(), 0).rows
    assert [(row.topic_id, row.posts_24h) for row in rows] == [("t", 1)]  # the app db's fact, not the old one
    assert r.lost == set()
    # A new log: its offsets start again, and snapshot positions of the old one must not hold it back.
    lineage = r.state.partitions[0].lineage_since
    assert lineage > 0 and r.state.positions([0])[0].lineage_since == lineage
    reloaded = await r.state.load(0)
    assert reloaded.lineage_since == lineage  # stored with the state, so it survives a restart


async def test_a_trimmed_log_or_a_new_broker_incarnation_bootstraps_a_fresh_partition() -> None:
    app_db = AppDb([Event("db", "post", "t", "b", E - HOUR_MS)])
    r = recovery(MemoryStore(), FakeConsumer({0}, beginning=40), Broker({0: 50}), app_db)
    r.on_assigned([0])
    await r.restore_pending()
    assert app_db.loads == [0] and r.consumer.positions == {0: 40}  # type: ignore[attr-defined]
    assert r.state.partitions[0].lineage_since == 0  # trimmed by retention: still the same log

    app_db = AppDb([])
    r = recovery(MemoryStore(), FakeConsumer({0}), Broker({0: 0}), app_db, history_lost=True)
    r.on_assigned([0])
    await r.restore_pending()
    assert app_db.loads == [0] and r.state.partitions[0].lineage_since > 0


async def test_restore_failures_are_retried_then_fatal() -> None:
    broker = Broker({0: 0})
    broker.failures = 1
    fatal: list[BaseException] = []
    r = recovery(MemoryStore(), FakeConsumer({0}), broker, fatal=fatal)
    r.on_assigned([0])
    await r.restore_pending()
    assert r.to_restore == {0} and r.failures == 1
    await r.restore_pending()
    assert r.to_restore == set() and r.failures == 0 and not fatal

    broker.failures = ASSIGN_ATTEMPTS
    r.on_assigned([1])
    r.consumer.assigned.add(TopicPartition(TOPIC, 1))  # type: ignore[attr-defined]
    for _ in range(ASSIGN_ATTEMPTS):
        await r.restore_pending()
    assert len(fatal) == 1 and "could not restore partitions [1]" in str(fatal[0])


async def test_partitions_revoked_before_their_restore_are_not_restored() -> None:
    consumer = FakeConsumer({0})
    r = recovery(MemoryStore(), consumer, Broker({0: 0, 1: 0}))
    r.on_assigned([0, 1])
    await r.restore_pending()  # partition 1 is no longer in the assignment
    assert sorted(r.state.partitions) == [0] and r.to_restore == set()


async def test_a_broker_that_restarted_empty_under_the_worker_is_noticed() -> None:
    store = MemoryStore()
    stored_state(store, 0, 5)
    consumer = FakeConsumer({0})
    app_db = AppDb([])
    r = recovery(store, consumer, Broker({0: 5}), app_db)
    r.on_assigned([0])
    await r.restore_pending()
    consumer.highwaters[0] = 5
    await r.recover_lost_history()
    assert 0 in r.state.partitions  # nothing lost

    consumer.highwaters[0] = 2  # the broker came back with fewer records than the state consumed
    r.watermarks = Broker({0: 2}).watermarks  # type: ignore[method-assign]
    await r.recover_lost_history()
    assert 0 not in r.state.partitions and consumer.paused == {0} and r.lost == {0}
    await r.restore_pending()
    assert app_db.loads == [0] and consumer.positions[0] == 0 and consumer.paused == set()


async def test_barriers_complete_when_every_owned_partition_has_delivered_its_copy() -> None:
    done: list[MaterializeRequest] = []

    async def complete(request: MaterializeRequest) -> None:
        done.append(request)

    now = E
    barriers = Barriers(complete, clock_ms=lambda: now)
    request = MaterializeRequest("r1", E, now)
    await barriers.seen([(0, request)], owned={0, 1})
    assert done == []
    await barriers.seen([(1, request)], owned={0, 1})
    assert done == [request]
    stale = MaterializeRequest("r0", E, now - 11 * 60_000)
    await barriers.seen([(0, stale), (1, stale)], owned={0, 1})
    assert done == [request]  # replayed from the log: nobody waits for it
