"""Rebuilding stream state from the app database gives the reconciliation's numbers."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from appdb.loader import load_partition_from_app_db, partition_of
from appdb.recompute import recompute_snapshot
from config.settings import ScoreWeights
from streams.aggregation import PartitionState
from streams.state_store import MemoryStore
from streams.windows import retention_ms, window_set
from tests.fixtures.app_db import BOUNDARY, HOUR, build_app_db, scenario, settings_for

pytestmark = pytest.mark.integration


def test_partition_of_matches_kafkas_default_partitioner() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    for topic in ("rust", "python", "topic-00042", "日本語"):
        assert partition_of(topic, 4) == DefaultPartitioner()(topic.encode(), [0, 1, 2, 3], [0, 1, 2, 3])


async def test_state_loaded_from_the_app_database_equals_the_recompute(tmp_path: Path) -> None:
    db = await build_app_db(tmp_path / "kukuri.db", scenario(BOUNDARY))
    with sqlite3.connect(db) as conn:  # rows the app may hold that must not break the load
        conn.execute("INSERT INTO events VALUES ('odd', 'zed', '', 1, '[\"e\",\"x\"]', ?, 0)", (BOUNDARY - HOUR,))
        conn.execute("INSERT INTO event_topics VALUES ('odd', 'rust')")
        conn.execute("INSERT INTO event_topics VALUES ('p2', NULL)")
        conn.execute("INSERT INTO bookmarks VALUES ('k9', NULL, 'p1', ?)", (BOUNDARY - HOUR,))
    settings = settings_for(db)
    windows = window_set()
    states = [PartitionState(p, MemoryStore(), windows, retention_ms(windows), BOUNDARY) for p in range(4)]
    loaded = [await load_partition_from_app_db(settings, state) for state in states]
    assert sum(loaded) > 0
    streamed = {r.topic_id: replace(r, updated_at=0) for s in states for r in s.snapshot(BOUNDARY, ScoreWeights(), 0).rows}
    batch = await recompute_snapshot(db, BOUNDARY, ScoreWeights(), updated_at=0)
    assert {t: asdict(r) for t, r in streamed.items()} == {r.topic_id: asdict(r) for r in batch.rows}
    # Retracted rows were loaded as retracted: the original events replayed from Kafka count nothing.
    rust = states[partition_of("rust", 4)]
    assert rust.apply(next(e for e in scenario(BOUNDARY) if e.event_id == "p8")) == "duplicate"
