"""Snapshot parts never go back, whatever order writers with whatever positions arrive in.

Every partition holds one topic whose count is the offset its writer had read to, so "the number
went back" is "a smaller position replaced a larger one". Hypothesis draws sequences of writes by
workers owning any subset of the partitions (all of them: the whole-snapshot path), at any
positions, and the real SQLite writer runs them; after each write the stored snapshot is checked.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import write_snapshot_part
from streams.metrics import PartPosition, TopicMetrics

PARTITIONS = 3
E = 1_700_000_100_000 - 1_700_000_100_000 % 300_000


def row(partition: int, position: int) -> TopicMetrics:
    return TopicMetrics(f"topic-{partition}", E - 86_400_000, E, position, position, 1, 0, 0, 0, 1,
                        float(position), float(position), 0, 1, 0, 0, 0, 1)


Write = dict[int, int]  # partition -> position, one worker's write

writes = st.lists(
    st.dictionaries(st.integers(0, PARTITIONS - 1), st.integers(0, 30), min_size=1, max_size=PARTITIONS),
    min_size=1, max_size=25,
)


def stored(db: Path) -> tuple[dict[str, int], int | None]:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT topic_id, posts_24h FROM topic_metrics WHERE window_end = ?", (E,)))
        run = conn.execute("SELECT topics_upserted FROM trending_runs WHERE window_end = ?", (E,)).fetchone()
    return rows, None if run is None else run[0]


async def replay(db: Path, sequence: list[Write]) -> None:
    conn = await connect_writer(db)
    await apply_migrations(conn)
    highest: dict[int, int] = {}  # the largest position written per partition so far
    shown: dict[str, int] = {}  # the largest number readers have seen per topic
    try:
        for i, write in enumerate(sequence):
            result = await write_snapshot_part(
                conn, E, {p: [row(p, at)] for p, at in write.items()}, total_partitions=PARTITIONS,
                worker_id=f"w{i}", ttl_hours=10**6, positions={p: PartPosition(at) for p, at in write.items()},
            )
            assert set(result.stale) == {p for p, at in write.items() if at < highest.get(p, -1)}
            for p, at in write.items():
                highest[p] = max(highest.get(p, -1), at)
            rows, run = stored(db)
            assert run is None or run == len(rows)  # no partial snapshot
            assert run is None or len(rows) == PARTITIONS
            for topic, value in rows.items():
                assert value >= shown.get(topic, 0), (topic, value, shown)  # never back
                shown[topic] = value
        # Whatever came before, one worker that has read further on every partition is written whole.
        ahead = {p: highest.get(p, 0) + 1 for p in range(PARTITIONS)}
        result = await write_snapshot_part(
            conn, E, {p: [row(p, at)] for p, at in ahead.items()}, total_partitions=PARTITIONS, worker_id="last",
            ttl_hours=10**6, positions={p: PartPosition(at) for p, at in ahead.items()},
        )
        assert result.stale == () and result.run is not None
        assert stored(db) == ({f"topic-{p}": at for p, at in ahead.items()}, PARTITIONS)
    finally:
        await conn.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=writes)
def test_no_order_of_writes_puts_a_smaller_position_over_a_larger_one(sequence: list[Write]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(replay(Path(tmp) / "kukuri.db", sequence))
