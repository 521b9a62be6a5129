"""Snapshot cost against the number of active topics: build rows from the window state, then
write them to a real SQLite file (stage, promote, record the run) as the sink does.

    python -m bench.snapshot_bench [--topics 1000,5000,10000,50000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from config.settings import ScoreWeights
from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import write_snapshot_part
from streams.aggregation import PartitionState
from streams.events import Event
from streams.state_store import MemoryStore
from streams.windows import HOUR_MS, retention_ms, window_set

PARTITIONS = 4


def build_state(topics: int, boundary: int) -> dict[int, PartitionState]:
    windows = window_set()
    states = {p: PartitionState(p, MemoryStore(), windows, retention_ms(windows), boundary) for p in range(PARTITIONS)}
    for i in range(topics):
        state = states[i % PARTITIONS]
        topic = f"topic-{i:06d}"
        for j, kind in enumerate(("post", "reply", "boost")):
            state.apply(Event(f"e{i}-{j}", kind, topic, f"u{(i + j) % 997}", boundary - (j + 1) * 2 * HOUR_MS,  # type: ignore[arg-type]
                              None if kind == "post" else f"e{i}-0"))
        state.take_pending(None)  # drop the fact records: only the tallies matter here
    return states


async def measure(topics: int) -> dict[str, float]:
    boundary = (int(time.time() * 1000) // 300_000) * 300_000
    states = build_state(topics, boundary)
    with tempfile.TemporaryDirectory() as tmp:
        conn = await connect_writer(Path(tmp) / "bench.db")
        await apply_migrations(conn)
        started = time.perf_counter()
        parts = {p: s.snapshot(boundary, ScoreWeights(), 0) for p, s in states.items()}
        built = time.perf_counter()
        record = await write_snapshot_part(
            conn, boundary, {p: s.rows for p, s in parts.items()}, total_partitions=PARTITIONS,
            worker_id="bench", ttl_hours=48,
        )
        written = time.perf_counter()
        await conn.close()
    assert record is not None and record.topics_upserted == topics
    return {"rows_ms": (built - started) * 1000, "write_ms": (written - built) * 1000, "total_ms": (written - started) * 1000}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", default="1000,5000,10000,50000,100000")
    args = parser.parse_args(argv)
    print("| active topics | build rows (ms) | write to SQLite (ms) | total (ms) |")
    print("|---:|---:|---:|---:|")
    for topics in [int(t) for t in args.topics.split(",")]:
        r = asyncio.run(measure(topics))
        print(f"| {topics:,} | {r['rows_ms']:.0f} | {r['write_ms']:.0f} | {r['total_ms']:.0f} |")


if __name__ == "__main__":
    main()
