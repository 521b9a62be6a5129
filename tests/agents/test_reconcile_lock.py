"""The scheduled reconciliation folds app-database facts into stream state under the ingest lock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from agents.reconcile_service import ReconcileService
from appdb.loader import partition_of
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, PANE_MS, retention_ms, window_set
from tests.fixtures.app_db import build_app_db, settings_for


async def test_the_repair_waits_for_the_lock_and_checkpoints_what_it_folded(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    head = now - now % PANE_MS
    settings = settings_for(tmp_path / "kukuri.db")
    topic = next(f"t{i}" for i in range(100) if partition_of(f"t{i}", settings.kafka.partitions) == 0)
    await build_app_db(settings.database.path, [Event("p1", "post", topic, "a", head - HOUR_MS)])
    windows = window_set()
    store = MemoryStore()
    state = StreamState(store, windows, retention_ms(windows), head)
    partition = PartitionState(0, store, windows, state.retention_ms, head)
    partition.offset = 0
    state.attach(partition)
    lock = asyncio.Lock()
    service = ReconcileService(settings, state, lambda: [0], lock)

    await lock.acquire()  # a batch is being folded
    repair = asyncio.ensure_future(service.repair_stream_state())
    await asyncio.sleep(0.2)
    assert not repair.done() and partition.active_topics == 0
    lock.release()
    assert await repair == 1
    assert partition.active_topics == 1
    assert partition.pending == {}  # checkpointed before the lock was released
    assert any(b"p1" in key for key, _ in store.scan(b"", b"\xff"))
