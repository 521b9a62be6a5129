"""Partitions moving between workers under load, through the real parts: three `kukuri-trending
worker` processes share six partitions while a known stream is fed; one is SIGKILLed mid-stream
(its partitions move once the broker evicts it, after the session timeout), later a fresh worker
joins (they move again). A reader thread checks every snapshot promoted meanwhile: each boundary
is whole (every partition's part, none doubled or stale) or absent."""

from __future__ import annotations

import random
import time

import pytest

from tests.agents.test_crash_consistency import known_stream
from tests.agents.test_worker_integration import materialize, now_boundary
from tests.fixtures.fault_env import (
    Feeder,
    configure,
    log_events,
    prepare,
    produce,
    sigkill,
    start_worker,
    wait_for_owners,
)
from tests.fixtures.snapshot_watch import SnapshotWatcher, StreamPrefixes
from tests.fixtures.trending_env import TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration

SEED = 8_3
PARTITIONS = 6


def by_partition(owned: dict[int, list[int]]) -> dict[int, int]:
    """partition -> pid of its owner."""
    return {p: pid for pid, parts in owned.items() for p in parts}


def test_workers_dying_and_joining_under_load_promote_only_whole_snapshots(trending_env: TrendingEnv) -> None:
    env = trending_env
    configure(env, partitions=PARTITIONS, stream={"checkpoint_max_events": 50})
    prepare(env)
    rng = random.Random(SEED)
    E = now_boundary()
    events = known_stream(E, SEED, facts=1800, topics=60)

    watcher = SnapshotWatcher(env.db)
    watcher.start()
    feeder = Feeder(env, events, rate=35)
    try:
        a, _ = start_worker(env, "a", env.root / "state-a")
        b, _ = start_worker(env, "b", env.root / "state-b")
        c, _ = start_worker(env, "c", env.root / "state-c")
        first = wait_for_owners(env, [a, b, c])
        feeder.start()
        time.sleep(rng.uniform(3, 6))
        materialize(env, E)  # promoted from three workers' parts, mid-stream

        time.sleep(rng.uniform(1, 4))
        sent_at_kill = feeder.sent
        sigkill(env, b)
        second = wait_for_owners(env, [a, c])  # after the broker's session timeout evicts b
        materialize(env, E)

        time.sleep(rng.uniform(1, 4))
        d, _ = start_worker(env, "d", env.root / "state-d")  # empty data dir: replays from Kafka
        third = wait_for_owners(env, [a, c, d])
        materialize(env, E)
        feeder.finish()
        materialize(env, E)
    finally:
        watcher.stop()

    moved_by_kill = {p for p, pid in by_partition(second).items() if by_partition(first)[p] != pid}
    moved_by_join = {p for p, pid in by_partition(third).items() if by_partition(second)[p] != pid}
    assert set(first[b.pid]) <= moved_by_kill and moved_by_join, (first, second, third)
    assert 0 < sent_at_kill < len(events)

    expected = expected_rows(events, E)
    assert env.snapshot(E) == expected
    assert env.query("SELECT source, topics_upserted FROM trending_runs WHERE window_end = ?", (E,)) == [
        ("stream", len(expected))]
    assert env.query("SELECT COUNT(DISTINCT partition), COUNT(*) FROM snapshot_parts WHERE window_end = ?",
                     (E,)) == [(PARTITIONS, PARTITIONS)]

    promoted = [seen for seen in watcher.observations if seen.run_topics is not None]
    assert len(promoted) >= 3, (watcher.reads, watcher.errors[-5:])
    assert StreamPrefixes(events).judge_all(watcher.observations) == []
    print(f"ownership: {first} -> {second} -> {third}; killed after {sent_at_kill} events; "
          f"{watcher.reads} reads, {len(promoted)} promoted boundary states")


def test_a_worker_replaying_answered_barriers_never_puts_older_numbers_back(trending_env: TrendingEnv) -> None:
    """A worker given partitions replays them from the start, and reads on the way the barriers of
    `materialize` requests answered long ago: parts at those points are older than what is stored,
    and must be left out rather than promoted."""
    env = trending_env
    configure(env, partitions=2, stream={"checkpoint_max_events": 10})
    prepare(env)
    E = now_boundary()
    events = known_stream(E, SEED, facts=240, topics=12)
    half = len(events) // 2

    a, _ = start_worker(env, "a", env.root / "state-a")
    wait_for_owners(env, [a])
    produce(env, events[:half])
    materialize(env, E)  # a barrier mid-stream, answered
    produce(env, events[half:])
    materialize(env, E)
    assert env.snapshot(E) == expected_rows(events, E)

    watcher = SnapshotWatcher(env.db)
    watcher.start()
    try:
        sigkill(env, a)
        b, _ = start_worker(env, "b", env.root / "state-b")  # empty data directory: replays both partitions
        wait_for_owners(env, [b])
        env.wait_until(lambda: log_events(env, "trending_metrics_job.part_stale"), 90,
                       "the replaying worker to leave its part at the old barrier out")
        materialize(env, E)
    finally:
        watcher.stop()

    assert watcher.observations and StreamPrefixes(events).judge_all(watcher.observations) == []
    assert env.snapshot(E) == expected_rows(events, E)
