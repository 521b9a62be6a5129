"""Issue 3 (b): a share of the facts never reaches Kafka, so the stream's snapshot is wrong;
`reconcile` makes topic_metrics equal the truth, and the worker's scheduled reconciliation also
repairs the stream's own state so the next snapshots stay right."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from agents.reconcile_service import ReconcileService
from appdb.loader import partition_of
from config.settings import Settings
from producer.synthetic import TrafficGenerator, delivery
from sinks.migrate import migrate
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, retention_ms, window_set
from tests.agents.test_worker_integration import materialize, now_boundary, produce_events
from tests.fixtures.app_db import build_app_db
from tests.fixtures.trending_env import TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration


def split_traffic(seed: int, boundary: int) -> tuple[list, list[Event], list[Event]]:
    """All actions (the app's truth), the events Kafka got, and the events that were lost."""
    rng = random.Random(seed)
    actions = list(TrafficGenerator(15, seed=seed).actions(boundary - 20 * HOUR_MS, boundary, 900))
    sent = [a for a in actions if rng.random() > 0.2]
    lost = [e for a in actions if a not in sent for e in a.events]
    return actions, list(delivery(iter(sent), rng)), lost


def test_reconcile_repairs_what_the_stream_missed(trending_env: TrendingEnv) -> None:
    env = trending_env
    E = now_boundary()
    actions, sent, lost = split_traffic(21, E)
    assert lost
    asyncio.run(build_app_db(env.db, [e for a in actions for e in a.events]))
    env.start_worker()
    env.wait_for_workers()
    produce_events(env, sent)
    materialize(env, E)
    correct = expected_rows([e for a in actions for e in a.events], E)
    assert env.snapshot(E) != correct  # the stream cannot know what never reached Kafka

    dry = env.cli("reconcile", "--at", str(E), "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert not json.loads(dry.stdout)["clean"]
    assert env.snapshot(E) != correct  # a dry run changes nothing

    repaired = env.cli("reconcile", "--at", str(E), "--json")
    assert repaired.returncode == 0, repaired.stderr
    assert env.snapshot(E) == correct
    assert env.query("SELECT source FROM trending_runs WHERE window_end = ?", (E,)) == [("reconcile",)]
    again = env.cli("reconcile", "--at", str(E), "--json")
    assert json.loads(again.stdout)["clean"]


async def test_scheduled_reconcile_also_repairs_the_stream_state(tmp_path: Path) -> None:
    E = now_boundary()
    actions, sent, _ = split_traffic(22, E)
    settings = replace(Settings(), database=replace(Settings().database, path=tmp_path / "kukuri.db"))
    await migrate(settings.database.path)
    await build_app_db(settings.database.path, [e for a in actions for e in a.events])
    windows = window_set()
    state = StreamState(MemoryStore(), windows, retention_ms(windows, 10 * 60_000), E)
    for p in range(4):
        state.attach(await state.load(p))
    for event in sent:
        state.partitions[partition_of(event.topic_id, 4)].apply(event)

    correct = expected_rows([e for a in actions for e in a.events], E)

    def stream_rows() -> dict:
        return {
            r.topic_id: {k: getattr(r, k) for k in r.__slots__ if k != "updated_at"}
            for part in state.snapshot(E, settings.metrics.score_weights, 0).values() for r in part.rows
        }

    assert stream_rows() != correct
    await ReconcileService(settings, state, lambda: [0, 1, 2, 3]).reconcile()
    assert stream_rows() == correct
