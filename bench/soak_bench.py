"""Soak: do memory, state, snapshot cost and the snapshot table stay bounded over days of event time?

    python -m bench.soak_bench [--topics 100000] [--hours 72] [--events-per-hour N] [--ttl-hours 48]

A simulated clock drives a constant event rate through the worker's own state path: the events
of each 5-minute pane are folded into `StreamState` partitions on a real RocksDB store (batches
checkpointed with their offsets, as the ingest service does), then, at the boundary, the sink's
run: advance, build the snapshot, write it to a real SQLite file through the snapshot writer and
expire rows older than the TTL. Nothing runs in between, so event time moves as fast as the
machine allows.

Event time starts at a fixed instant in the future, so the writer's wall-clock expiry never fires
during the run; the TTL is applied on the simulated clock with the writer's own `expire`, right
after each write, as the writer itself would at that time. RocksDB compacts in the background as
configured by the store (the store has no compaction call of its own): disk sizes are raw.

Once the state retention (48 h + grace) and the TTL are both covered, every measured resource must
stop growing; the closing plateau check compares the first and the second half of those hours.

The sink dominates the run time: every snapshot inserts a row per active topic into `topic_metrics`
and expires as many, and both get slower as the table fills towards 576 snapshots (48 h of 5-minute
boundaries). On the 2-core development machine 20,000 topics took about half an hour; 100,000
topics take hours (snapshots of about 5 s each with 13 million rows held, and the table keeps growing).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

import aiosqlite

from agents.heap import HeapUsage, heap_usage, trim_heap
from agents.worker_app import GC_THRESHOLDS
from config.settings import ScoreWeights, StreamSettings
from sinks.database import connect_writer
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import expire, write_snapshot_part
from streams.events import Event, Kind
from streams.state_store import RocksStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, MINUTE_MS, PANE_MS, retention_ms, window_set

MB: Final = 1024 * 1024

# Far enough ahead that the writer's wall-clock TTL keeps every row the simulated TTL keeps.
EPOCH: Final = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
PANES_PER_HOUR: Final = HOUR_MS // PANE_MS

# What each event is: new facts of every kind, deletes of a recent fact, and redeliveries.
ACTIONS: Final = ("post", "reply", "boost", "bookmark", "delete", "duplicate")
ACTION_WEIGHTS: Final = (40, 20, 15, 12, 5, 8)
LATE_SHARE: Final = 0.05
LATE_MAX_MS: Final = 10 * MINUTE_MS
RECENT_EVENTS: Final = 20_000  # what deletes and duplicates pick from


@dataclass(frozen=True)
class SoakConfig:
    topics: int
    hours: int
    events_per_hour: int
    uniform_share: float
    zipf_exponent: float
    authors: int
    partitions: int
    ttl_hours: int
    seed: int

    @property
    def events_per_pane(self) -> int:
        return self.events_per_hour // PANES_PER_HOUR

    def settle_hour(self, state_retention_ms: int) -> int:
        """The first hour whose end sees both the full state retention and the full TTL."""
        return max(math.ceil(state_retention_ms / HOUR_MS), self.ttl_hours)


@dataclass(frozen=True)
class HourSample:
    """Resources at the end of one simulated hour (rates and times over that hour)."""

    hour: int
    events: int
    events_per_s: float
    rss_mb: float
    state_disk_mb: float
    state_wal_mb: float
    state_keys: int
    """Live keys, counted by a full scan of the store."""
    active_topics: int
    snapshot_ms_mean: float
    snapshot_ms_max: float
    metrics_rows: int
    sqlite_mb: float
    heap_in_use_mb: float
    """What malloc has handed out and not had back (Python objects, RocksDB's buffers, SQLite's cache)."""
    heap_free_mb: float
    """Free inside malloc's arenas: resident until trimmed (see agents.heap)."""
    rocksdb_mb: float
    """RocksDB's memtables, table readers and block cache."""
    sqlite_memory_mb: float
    """What SQLite has allocated (page caches, statements): `sqlite3_memory_used`."""
    python_objects_m: float
    """Memory blocks Python has allocated, in millions (`sys.getallocatedblocks`): flat while the
    number of objects the state holds is."""

    @property
    def state_sst_mb(self) -> float:
        """The state on disk without the write-ahead log, which saw-tooths with memtable flushes."""
        return self.state_disk_mb - self.state_wal_mb


@dataclass(frozen=True)
class SoakResult:
    samples: list[HourSample]
    estimated_keys: int
    """RocksDB's own key estimate at the end, beside the exact counts of the samples: it still
    counts overwritten and range-deleted keys until compaction drops them."""


PLATEAU_METRICS: Final = ("rss_mb", "heap_in_use_mb", "rocksdb_mb", "sqlite_memory_mb", "python_objects_m",
                          "state_sst_mb", "state_keys",
                          "snapshot_ms_mean", "metrics_rows", "sqlite_mb", "events_per_s")


class Traffic:
    """A constant stream of events over `topics`: Zipf-skewed topic choice plus a uniform share,
    so the popular topics are busy and every topic still sees events each day."""

    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.topic_ids = [f"topic-{i:06d}" for i in range(config.topics)]
        self.partition_of = {t: i % config.partitions for i, t in enumerate(self.topic_ids)}
        self.author_ids = [f"user-{i:06d}" for i in range(config.authors)]
        self.cum_weights = _zipf_cum_weights(config.topics, config.zipf_exponent)
        self.population = range(config.topics)
        self.last_post: dict[int, str] = {}
        self.recent: list[Event] = []
        self.next_recent = 0
        self.next_id = 0

    def pane(self, start: int) -> list[Event]:
        """The events that arrive during the pane starting at `start`, in arrival order."""
        rng = self.rng
        n = self.config.events_per_pane
        actions = rng.choices(ACTIONS, ACTION_WEIGHTS, k=n)
        skewed = rng.choices(self.population, cum_weights=self.cum_weights, k=n)
        events = []
        for action, skewed_topic in zip(actions, skewed, strict=True):
            if action == "duplicate" and self.recent:
                events.append(rng.choice(self.recent))
                continue
            created_at = start + rng.randrange(PANE_MS)
            if rng.random() < LATE_SHARE:
                created_at -= rng.randrange(LATE_MAX_MS)
            author = self.author_ids[rng.randrange(self.config.authors)]
            event_id = f"e{self.next_id}"
            self.next_id += 1
            if action == "delete" and self.recent:
                victim = rng.choice(self.recent)
                events.append(Event(event_id, "delete", victim.topic_id, victim.author, created_at, victim.event_id))
                continue
            kind: Kind = "post" if action in ("delete", "duplicate") else action  # type: ignore[assignment]
            topic = rng.randrange(self.config.topics) if rng.random() < self.config.uniform_share else skewed_topic
            target = None
            if kind == "post":
                self.last_post[topic] = event_id
            else:
                target = self.last_post.get(topic, f"outside-{topic}")
            event = Event(event_id, kind, self.topic_ids[topic], author, created_at, target)
            events.append(event)
            self._remember(event)
        return events

    def _remember(self, event: Event) -> None:
        if len(self.recent) < RECENT_EVENTS:
            self.recent.append(event)
        else:
            self.recent[self.next_recent] = event
            self.next_recent = (self.next_recent + 1) % RECENT_EVENTS


def _zipf_cum_weights(n: int, exponent: float) -> list[float]:
    total = 0.0
    cum = []
    for rank in range(1, n + 1):
        total += rank ** -exponent
        cum.append(total)
    return cum


def rss_mb() -> float:
    """Resident memory of this process: the state plus the generator's own few, constant MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS missing from /proc/self/status")


def disk_mb(*paths: Path) -> float:
    """Allocated size, as `du` counts it, of the files at or under `paths`."""
    files = []
    for path in paths:
        files.append(path)
        files.extend(Path(root, name) for root, _, names in os.walk(path) for name in names)
    total = 0
    for file in files:
        # A file RocksDB compacts away while we walk no longer counts.
        with contextlib.suppress(FileNotFoundError):
            if file.is_file():
                total += file.stat().st_blocks * 512
    return total / 2**20


@cache
def _sqlite_library() -> ctypes.CDLL | None:
    """The SQLite library Python's sqlite3 module uses (the process holds one copy of it)."""
    name = ctypes.util.find_library("sqlite3")
    try:
        library = ctypes.CDLL(name)
        library.sqlite3_memory_used.restype = ctypes.c_int64
    except (OSError, AttributeError, TypeError):
        return None
    return library


def sqlite_memory_mb() -> float:
    """Bytes SQLite has allocated and not freed, in MB; 0 where its library cannot be found."""
    library = _sqlite_library()
    return library.sqlite3_memory_used() / MB if library is not None else 0.0


async def _count_rows(conn: aiosqlite.Connection) -> int:
    async with conn.execute("SELECT COUNT(*) FROM topic_metrics") as cursor:
        (rows,) = await cursor.fetchone()  # type: ignore[misc]
    return int(rows)


async def run_soak(
    config: SoakConfig, workdir: Path, on_hour: Callable[[HourSample], None] | None = None
) -> SoakResult:
    """Drive `config.hours` of event time through the state and the sink; one sample per hour."""
    stream = StreamSettings()
    windows = window_set()
    state_retention = retention_ms(windows, stream.late_grace_minutes * MINUTE_MS)
    state_dir = workdir / "rocksdb"
    db_path = workdir / "kukuri.db"
    store = RocksStore(state_dir)
    stream_state = StreamState(store, windows, state_retention, EPOCH)
    for p in range(config.partitions):
        partition = await stream_state.load(p)
        partition.offset = 0
        stream_state.attach(partition)
    traffic = Traffic(config)
    offsets = dict.fromkeys(range(config.partitions), 0)
    weights = ScoreWeights()
    batch = stream.checkpoint_max_events
    conn = await connect_writer(db_path)
    samples: list[HourSample] = []
    try:
        await apply_migrations(conn)
        for hour in range(1, config.hours + 1):
            applied = 0
            apply_seconds = 0.0
            snapshot_ms: list[float] = []
            for pane in range(PANES_PER_HOUR):
                start = EPOCH + (hour - 1) * HOUR_MS + pane * PANE_MS
                events = traffic.pane(start)
                started = time.perf_counter()
                for i in range(0, len(events), batch):
                    for event in events[i : i + batch]:
                        p = traffic.partition_of[event.topic_id]
                        stream_state.partitions[p].apply(event)
                        offsets[p] += 1
                    stream_state.checkpoint(offsets)
                apply_seconds += time.perf_counter() - started
                applied += len(events)
                snapshot_ms.append(await _snapshot(conn, stream_state, start + PANE_MS, weights, config))
            heap = heap_usage() or HeapUsage(0, 0)
            sample = HourSample(
                hour=hour,
                events=applied,
                events_per_s=applied / apply_seconds if apply_seconds else 0.0,
                rss_mb=rss_mb(),
                state_disk_mb=disk_mb(state_dir),
                # The write-ahead log backs the memtable: it grows until the memtable is flushed.
                state_wal_mb=disk_mb(*state_dir.glob("*.log")),
                state_keys=sum(1 for _ in stream_state.store.scan(b"", b"\xff")),
                active_topics=stream_state.active_topics,
                snapshot_ms_mean=sum(snapshot_ms) / len(snapshot_ms),
                snapshot_ms_max=max(snapshot_ms),
                metrics_rows=await _count_rows(conn),
                sqlite_mb=disk_mb(db_path, db_path.with_name(db_path.name + "-wal")),
                heap_in_use_mb=heap.in_use / MB,
                heap_free_mb=heap.free / MB,
                rocksdb_mb=sum(store.memory().values()) / MB,
                sqlite_memory_mb=sqlite_memory_mb(),
                python_objects_m=sys.getallocatedblocks() / 1e6,
            )
            samples.append(sample)
            if on_hour is not None:
                on_hour(sample)
        estimated_keys = stream_state.store.approximate_keys()
    finally:
        await conn.close()
        stream_state.close()
    return SoakResult(samples, estimated_keys)


async def _snapshot(
    conn: aiosqlite.Connection, stream_state: StreamState, boundary: int, weights: ScoreWeights, config: SoakConfig
) -> float:
    """The sink's run for `boundary` (advance, build, write, expire); returns its milliseconds."""
    started = time.perf_counter()
    stream_state.advance(boundary)
    parts = stream_state.snapshot(boundary, weights, boundary)
    written = await write_snapshot_part(
        conn, boundary, {p: s.rows for p, s in parts.items()},
        window_rows_by_partition={p: s.window_rows for p, s in parts.items()},
        total_partitions=config.partitions, worker_id="soak", ttl_hours=config.ttl_hours, started_at=boundary,
        positions=stream_state.positions(parts),
    )
    if written.run is None:
        raise RuntimeError(f"the snapshot for {boundary} did not complete")
    await expire(conn, config.ttl_hours, now=boundary)
    await asyncio.to_thread(trim_heap)  # as the worker's sink does after each run
    return (time.perf_counter() - started) * 1000


def plateau_growth(samples: Sequence[HourSample], settle_hour: int) -> dict[str, float] | None:
    """Growth in % of each metric from the first to the second half of the hours from
    `settle_hour` on; None when fewer than two such hours were run."""
    settled = [s for s in samples if s.hour >= settle_hour]
    half = len(settled) // 2
    if half == 0:
        return None
    first, second = settled[:half], settled[half : 2 * half]
    growth = {}
    for name in PLATEAU_METRICS:
        before = sum(getattr(s, name) for s in first) / half
        after = sum(getattr(s, name) for s in second) / half
        growth[name] = (after - before) / before * 100 if before else math.inf
    return growth


TABLE_HEADER: Final = (
    "| hour | events | events/s | RSS (MB) | heap in use (MB) | heap free (MB) | RocksDB memory (MB) "
    "| SQLite memory (MB) | Python objects (M) | state on disk (MB) | of which WAL (MB) | state keys "
    "| active topics "
    "| snapshot mean (ms) | snapshot max (ms) | topic_metrics rows | SQLite (MB) |"
)


def format_row(s: HourSample) -> str:
    return (f"| {s.hour} | {s.events:,} | {s.events_per_s:,.0f} | {s.rss_mb:,.0f} | {s.heap_in_use_mb:,.0f} "
            f"| {s.heap_free_mb:,.0f} | {s.rocksdb_mb:,.1f} | {s.sqlite_memory_mb:,.1f} | {s.python_objects_m:,.2f} "
            f"| {s.state_disk_mb:,.1f} "
            f"| {s.state_wal_mb:,.1f} | {s.state_keys:,} | {s.active_topics:,} | {s.snapshot_ms_mean:,.0f} | {s.snapshot_ms_max:,.0f} "
            f"| {s.metrics_rows:,} | {s.sqlite_mb:,.0f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--hours", type=int, default=72, help="simulated hours of event time (72)")
    parser.add_argument("--events-per-hour", type=int, default=None,
                        help="constant event rate in event time (default: the number of topics)")
    parser.add_argument("--uniform-share", type=float, default=0.5,
                        help="share of events on a uniformly chosen topic, the rest Zipf (0.5)")
    parser.add_argument("--ttl-hours", type=int, default=48, help="topic_metrics TTL (48)")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to put the RocksDB store and the SQLite file (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.topics < 1 or args.hours < 1 or not 0 <= args.uniform_share <= 1 or args.ttl_hours < 1:
        parser.error("--topics, --hours and --ttl-hours must be positive, --uniform-share within 0..1")
    events_per_hour = args.events_per_hour or args.topics
    if events_per_hour < PANES_PER_HOUR:
        parser.error(f"--events-per-hour must be at least {PANES_PER_HOUR} (one event per 5-minute pane)")
    config = SoakConfig(
        topics=args.topics, hours=args.hours, events_per_hour=events_per_hour, uniform_share=args.uniform_share,
        zipf_exponent=1.0, authors=max(100, args.topics // 2), partitions=args.partitions,
        ttl_hours=args.ttl_hours, seed=args.seed,
    )
    settle = config.settle_hour(retention_ms(window_set(), StreamSettings().late_grace_minutes * MINUTE_MS))
    mix = ", ".join(f"{a} {w}%" for a, w in zip(ACTIONS, ACTION_WEIGHTS, strict=True))
    print(f"soak: {config.topics:,} topics, {config.hours} h of event time, "
          f"{config.events_per_pane * PANES_PER_HOUR:,} events/h ({config.events_per_pane:,} per 5-minute pane), "
          f"snapshot every 5 min, TTL {config.ttl_hours} h, {config.partitions} partitions, one worker")
    print(f"topics: {config.uniform_share:.0%} uniform, the rest Zipf s={config.zipf_exponent}; "
          f"{config.authors:,} authors; mix {mix} (of recent events); {LATE_SHARE:.0%} up to "
          f"{LATE_MAX_MS // MINUTE_MS} min late; seed {config.seed}; state on RocksDB, snapshots to SQLite")
    print(TABLE_HEADER)
    print("|" + "---:|" * TABLE_HEADER.count("|", 1))
    gc.set_threshold(*GC_THRESHOLDS)  # as in the worker
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        started = time.perf_counter()
        result = asyncio.run(run_soak(config, Path(tmp), on_hour=lambda s: print(format_row(s), flush=True)))
        elapsed = time.perf_counter() - started
    print(f"\nwall time {elapsed / 60:.1f} min")
    print(f"state keys at the end: {result.samples[-1].state_keys:,} by a full scan, "
          f"{result.estimated_keys:,} by RocksDB's estimate (it counts overwritten and range-deleted "
          "keys until compaction drops them); the plateau check uses the state on disk without its "
          "write-ahead log, which grows until each memtable flush")
    growth = plateau_growth(result.samples, settle)
    if growth is None:
        print(f"plateau check: needs at least {settle + 1} hours (state retention and TTL are full from hour {settle})")
        return
    settled = config.hours - settle + 1
    half = settled // 2
    print(f"plateau check: mean of hours {settle}-{settle + half - 1} against hours "
          f"{settle + half}-{settle + 2 * half - 1}")
    print("| metric | growth |")
    print("|---|---:|")
    for name, pct in growth.items():
        print(f"| {name} | {pct:+.1f} % |")


if __name__ == "__main__":
    main()
