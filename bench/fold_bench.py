"""The worker's fold alone, in process, over pre-encoded records: no broker, no event loop.

    python -m bench.fold_bench [--events 300000] [--topics 100000] [--batch 5000] [--repeat 3] [--profile]
                               [--per-author-boosts]

The same traffic as `bench.ingest_bench` (one post per topic, then skewed synthetic facts with
duplicates, deletes and reordering) is encoded once, split over the partitions by key, and folded
batch by batch into a fresh RocksDB-backed `StreamState` exactly as the ingest loop does it
(`fold_records`, then one checkpoint per batch). Next to it, the same records are decoded and
validated only (the ceiling). With no broker in the process, the numbers move less on a shared
machine than the end-to-end bench, so this is the one to compare changes to the fold with.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import tempfile
import time
import zlib
from pathlib import Path

from aiokafka import ConsumerRecord

from agents.batch_fold import fold_records
from agents.worker_app import GC_THRESHOLDS
from bench.ingest_bench import PARTITIONS, bench_events
from observability.fold_build import fold_build
from streams.aggregation import boundary_for
from streams.events import parse_event
from streams.state_store import RocksStore
from streams.stream_state import StreamState
from streams.windows import retention_ms, window_set

INTERVAL_MS = 300_000
TOPIC = "bench.events"


def encoded_records(topics: int, facts: int, now: int) -> list[list[ConsumerRecord]]:
    """The bench's events as Kafka records, per partition in offset order."""
    by_partition: list[list[ConsumerRecord]] = [[] for _ in range(PARTITIONS)]
    for event in bench_events(topics, facts, now):
        key, value = event.key(), event.to_json()
        p = zlib.crc32(key) % PARTITIONS
        records = by_partition[p]
        records.append(ConsumerRecord(TOPIC, p, len(records), now, 0, key, value, None, len(key), len(value), ()))
    return by_partition


def batches(by_partition: list[list[ConsumerRecord]], size: int) -> list[list[ConsumerRecord]]:
    """Batches of `size` records taking from the partitions in turn, like `getmany`."""
    per_partition = max(size // PARTITIONS, 1)
    out = []
    for start in range(0, max(len(r) for r in by_partition), per_partition):
        out.append([r for records in by_partition for r in records[start : start + per_partition]])
    return out


def fold_all(
    root: Path, work: list[list[ConsumerRecord]], now: int, *, per_author_boosts: bool = False
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, active topics) to fold every batch into a fresh state."""
    windows = window_set()
    state = StreamState(RocksStore(root), windows, retention_ms(windows, 10 * 60_000), boundary_for(now, INTERVAL_MS),
                        per_author_boosts=per_author_boosts)
    for p in range(PARTITIONS):
        partition = asyncio.run(state.load(p))
        partition.offset = 0
        state.attach(partition)
    started, started_cpu = time.perf_counter(), time.process_time()
    for batch in work:
        result = fold_records(state, batch, now_ms=now, max_skew_ms=300_000)
        state.checkpoint(result.next_offsets, result.last_records)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    active = state.active_topics
    state.close()
    return wall, cpu, active


def decode_all(work: list[list[ConsumerRecord]], now: int) -> tuple[float, float]:
    started, started_cpu = time.perf_counter(), time.process_time()
    for batch in work:
        for record in batch:
            parse_event(record.value, now_ms=now)
    return time.perf_counter() - started, time.process_time() - started_cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of one fold")
    parser.add_argument("--per-author-boosts", action="store_true",
                        help="keep per-author boosts and classify self-boosts, as score profiles with an "
                             "author cap or without self-boosts make the worker do")
    args = parser.parse_args(argv)
    gc.set_threshold(*GC_THRESHOLDS)  # as in the worker
    now = int(time.time() * 1000)
    work = batches(encoded_records(args.topics, args.events, now), args.batch)
    n = sum(len(b) for b in work)
    print(f"{n:,} records, {args.topics:,} topics, batches of {args.batch}; {fold_build().summary()}")
    print("| run | decode+validate/s (wall / cpu) | fold+checkpoint/s (wall / cpu) | ratio (cpu) | active |")
    print("|---:|---:|---:|---:|---:|")
    for i in range(args.repeat):
        d_wall, d_cpu = decode_all(work, now)
        with tempfile.TemporaryDirectory() as tmp:
            f_wall, f_cpu, active = fold_all(Path(tmp), work, now, per_author_boosts=args.per_author_boosts)
        print(f"| {i + 1} | {n / d_wall:,.0f} / {n / d_cpu:,.0f} | {n / f_wall:,.0f} / {n / f_cpu:,.0f} "
              f"| {d_cpu / f_cpu:.0%} | {active:,} |")
    if args.profile:
        profiler = cProfile.Profile()
        with tempfile.TemporaryDirectory() as tmp:
            profiler.runcall(fold_all, Path(tmp), work, now, per_author_boosts=args.per_author_boosts)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
