"""Snapshot cost against the number of active topics and of shadow score profiles: build rows from
the window state, then write them to a real SQLite file (stage, promote, rank, record the run) as
the sink does.

    python -m bench.snapshot_bench [--topics 1000,5000,10000,50000,100000] [--shadow-topics 100000]

Every topic size is measured with the default profile alone; `--shadow-topics` sizes also with one
shadow (the built-in `rising`: author cap, self-boosts left out, its 6 h baseline window, so the
state keeps per-author boosts) and with two (plus a capped linear profile).
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
from streams.metrics import PartPosition
from streams.scoring import DEFAULT, RISING, ScoreProfile, needs_author_counts, required_span_ms, scoring_windows
from streams.snapshot_profiles import part_profiles
from streams.state_store import MemoryStore
from streams.windows import HOUR_MS, retention_ms, window_set

PARTITIONS = 4
CAPPED = ScoreProfile("capped", author_cap=3, weights=ScoreWeights(1.0, 0.5, 1.0))
SHADOW_SETS: dict[str, tuple[ScoreProfile, ...]] = {
    "none": (DEFAULT,),
    "rising": (DEFAULT, RISING),
    "rising + capped": (DEFAULT, RISING, CAPPED),
}
# Per topic: (kind, hours before the boundary); boosts and the reply target the first post.
FACTS = (("post", 20), ("post", 4), ("reply", 3), ("boost", 2), ("boost", 1))


def build_state(topics: int, boundary: int, profiles: tuple[ScoreProfile, ...]) -> dict[int, PartitionState]:
    windows = (*window_set(), *scoring_windows(profiles))
    retention = max(retention_ms(windows), required_span_ms(profiles))
    per_author = any(needs_author_counts(p) for p in profiles)
    states = {
        p: PartitionState(p, MemoryStore(), windows, retention, boundary, per_author_boosts=per_author)
        for p in range(PARTITIONS)
    }
    for i in range(topics):
        state = states[i % PARTITIONS]
        topic = f"topic-{i:06d}"
        for j, (kind, hours) in enumerate(FACTS):
            target = None if kind == "post" else f"e{i}-0"
            state.apply(Event(f"e{i}-{j}", kind, topic, f"u{(i + j) % 997}", boundary - hours * HOUR_MS - 1,  # type: ignore[arg-type]
                              target))
        state.take_pending(None)  # drop the fact records: only the tallies matter here
    return states


async def measure(topics: int, profiles: tuple[ScoreProfile, ...]) -> dict[str, float]:
    boundary = (int(time.time() * 1000) // 300_000) * 300_000
    states = build_state(topics, boundary, profiles)
    with tempfile.TemporaryDirectory() as tmp:
        conn = await connect_writer(Path(tmp) / "bench.db")
        await apply_migrations(conn)
        started = time.perf_counter()
        parts = {p: s.snapshot(boundary, profiles, 0) for p, s in states.items()}
        built = time.perf_counter()
        written_part = await write_snapshot_part(
            conn, boundary, {p: s.rows for p, s in parts.items()}, total_partitions=PARTITIONS,
            worker_id="bench", ttl_hours=48,
            profile_rows_by_partition={p: s.profile_rows for p, s in parts.items()},
            profiles=part_profiles(profiles), positions={p: PartPosition(topics) for p in parts},
        )
        written = time.perf_counter()
        await conn.close()
    record = written_part.run
    assert record is not None and record.topics_upserted == topics
    return {"rows_ms": (built - started) * 1000, "write_ms": (written - built) * 1000, "total_ms": (written - started) * 1000}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", default="1000,5000,10000,50000,100000")
    parser.add_argument("--shadow-topics", default="100000",
                        help="topic counts also measured with one and two shadow profiles ('' for none)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(t) for t in args.topics.split(",")]
        shadow_sizes = [int(t) for t in args.shadow_topics.split(",") if t]
    except ValueError:
        parser.error("--topics and --shadow-topics take comma-separated whole numbers")
    print("| active topics | shadow profiles | build rows (ms) | write to SQLite (ms) | total (ms) |")
    print("|---:|---|---:|---:|---:|")
    cases = [(t, "none") for t in sizes] + [(t, s) for t in shadow_sizes for s in SHADOW_SETS if s != "none"]
    for topics, shadows in cases:
        r = asyncio.run(measure(topics, SHADOW_SETS[shadows]))
        print(f"| {topics:,} | {shadows} | {r['rows_ms']:.0f} | {r['write_ms']:.0f} | {r['total_ms']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
