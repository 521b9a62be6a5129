"""SIGKILL at random points while a known stream is consumed, through the real parts: the session's
Tansu broker, `kukuri-trending worker` subprocesses restarted on the same data dir, and a SQLite
file read from outside all along. No snapshot ever seen may be partial, and the final one must
equal the independent oracle in every column."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from producer.synthetic import TrafficGenerator, delivery
from streams.events import Event
from streams.windows import HOUR_MS
from tests.agents.test_worker_integration import materialize, now_boundary
from tests.fixtures.fault_env import (
    Feeder,
    configure,
    log_events,
    prepare,
    sigkill,
    start_worker,
    wait_for_owners,
)
from tests.fixtures.snapshot_watch import SnapshotWatcher, StreamPrefixes
from tests.fixtures.trending_env import CLI, TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration

SEED = 8_2


def known_stream(boundary: int, seed: int, facts: int, topics: int) -> list[Event]:
    """Synthetic facts as a broker receives them: duplicates, reordering, and every fourth delete
    moved right before its target (a delete that arrives first must cancel the target on arrival)."""
    actions = TrafficGenerator(topics, seed=seed).actions(boundary - 40 * HOUR_MS, boundary, facts)
    events = list(delivery(actions, random.Random(seed), duplicates=0.05))
    for delete in [e for e in events if e.kind == "delete"][::4]:
        target = next((i for i, e in enumerate(events)
                       if e.topic_id == delete.topic_id and e.event_id == delete.target_id), None)
        if target is not None and events.index(delete) > target:
            events.remove(delete)
            events.insert(target, delete)
    return events


def deletes_before_targets(events: list[Event]) -> int:
    seen: set[tuple[str, str]] = set()
    early = 0
    for e in events:
        if e.kind == "delete" and (e.topic_id, e.target_id) not in seen:
            early += 1
        seen.add((e.topic_id, e.event_id))
    return early


def wait_for_log(log: Path, proc: subprocess.Popen[bytes], event: str, timeout: float = 60) -> None:
    """Until the worker's log has a line with `event` (polled often: the next step is a kill)."""
    deadline = time.monotonic() + timeout
    while f'"{event}"' not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no {event} from the worker:\n{log.read_text()[-3000:]}"
        assert proc.poll() is None, log.read_text()[-3000:]
        time.sleep(0.01)


def test_sigkill_at_random_points_never_shows_a_partial_snapshot(trending_env: TrendingEnv) -> None:
    env = trending_env
    configure(env, stream={"checkpoint_max_events": 25})  # many small batches: kills land between and in them
    prepare(env)
    rng = random.Random(SEED)
    E = now_boundary()
    events = known_stream(E, SEED, facts=1800, topics=40)
    assert deletes_before_targets(events) > 0 and len(events) > len(set(events))

    watcher = SnapshotWatcher(env.db)
    watcher.start()
    feeder = Feeder(env, events, rate=40)
    feeder.start()
    kills = ["backlog", "materialize", "startup_snapshot", "backlog", "materialize", "backlog", "startup_snapshot"]
    killed_at: list[tuple[str, float, int]] = []
    try:
        for mode in kills:
            started = time.monotonic()
            worker, log = start_worker(env, f"kill{len(killed_at)}")
            if mode == "backlog":
                time.sleep(rng.uniform(2.0, 8.0))  # before, during or after the restored backlog
            elif mode == "startup_snapshot":
                wait_for_log(log, worker, "trending_stream.caught_up")  # the first snapshot starts now
            else:
                wait_for_owners(env, [worker])
                request = subprocess.Popen([*CLI, "--config", str(env.config), "materialize", "--at", str(E),
                                            "--timeout", "30"], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL, cwd=env.root, env=env.env())
                time.sleep(rng.uniform(0.8, 2.5))
            assert worker.poll() is None, env.logs()[-3000:]
            sigkill(env, worker)
            killed_at.append((mode, round(time.monotonic() - started, 2), feeder.sent))
            if mode == "materialize":
                request.kill()
                request.wait()
        env.start_worker()
        feeder.finish()
        materialize(env, E)
    finally:
        watcher.stop()

    expected = expected_rows(events, E)
    assert env.snapshot(E) == expected
    assert env.query("SELECT source, topics_upserted FROM trending_runs WHERE window_end = ?", (E,)) == [
        ("stream", len(expected))]
    with sqlite3.connect(env.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    assert watcher.reads > 100 and watcher.observations, (watcher.reads, watcher.errors[-5:])
    assert StreamPrefixes(events).judge_all(watcher.observations) == []
    # The kills hit a worker that was consuming: restarts found records it had not checkpointed.
    replays = [a["high_watermark"] - a["offset"] for a in log_events(env, "trending_stream.partition_assigned")]
    assert sum(1 for r in replays if r > 0) >= 3, (replays, killed_at)
    print(f"kills (mode, seconds after start, events sent): {killed_at}; "
          f"records replayed per restored partition: {replays}; "
          f"{watcher.reads} reads, {len(watcher.observations)} distinct boundary states")
