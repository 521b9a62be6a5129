"""Benchmark the reconciliation recompute and the backfill on generated app databases.

    .venv/bin/python -m bench.reconcile_bench [--seed 7] [--facts 100000 1000000] [--wide 1000000] [--keep DIR]

Same seed, same data: the generator is deterministic, so runs are comparable (the gap repair's
data ends at the current boundary, because its TTL is measured from now: same facts, shifted in
time). Facts are spread uniformly over the span the measured operation reads (48 h before E for
one boundary, 72 h for a 1440-minute backfill, 96 h for a 48-hour gap repair), which is the worst
case: every fact generated is read and counted. `--wide` adds the high-cardinality shape (50,000
topics, 20,000 authors), on which the API's live fallback (the same recompute, plus ranking) and
the trending-posts query (`api.posts.posts_for`, ten topics) are measured too. Prints a Markdown
table (the one in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from api.fallback import LiveFallback
from api.posts import posts_for
from appdb.recompute import recompute_snapshot
from config.settings import DatabaseSettings, Settings
from reconcile.backfill import backfill
from reconcile.gaps import fill_gaps
from sinks.database import connect_reader, connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, write_facts
from sinks.migrate import apply_migrations
from streams.events import Event, Kind
from streams.windows import HOUR_MS, align_down

# Share of each kind among generated facts; deletes retract an earlier post, boost or bookmark.
MIX: dict[Kind, float] = {"post": 0.50, "reply": 0.15, "boost": 0.15, "bookmark": 0.12, "delete": 0.08}
MULTI_TOPIC_SHARE = 0.2  # posts and replies written in two topics
CHUNK = 100_000


@dataclass(frozen=True)
class Shape:
    facts: int
    topics: int
    authors: int
    span_ms: int


def shape_for(facts: int, span_hours: int) -> Shape:
    return Shape(facts, topics=max(50, facts // 200), authors=max(100, facts // 20), span_ms=span_hours * HOUR_MS)


def wide_shape(facts: int) -> Shape:
    """Many topics, few authors each: 1M facts over 50,000 topics and 20,000 authors."""
    return Shape(facts, topics=max(50, facts // 20), authors=max(100, facts // 50), span_ms=48 * HOUR_MS)


def generate_events(shape: Shape, *, seed: int, end: int) -> Iterator[Event]:
    """`shape.facts` facts spread evenly over [end - span, end), in time order as an app writes them.

    Topic popularity follows a 1/rank law; replies, boosts, bookmarks and deletes pick an earlier fact.
    """
    rng = random.Random(seed)
    ranks = range(shape.topics)
    topic_weights = list(itertools.accumulate(1 / (rank + 1) for rank in ranks))
    kinds, kind_weights = list(MIX), list(itertools.accumulate(MIX.values()))
    posts: list[tuple[str, str]] = []  # (event_id, first topic)
    retractable: list[str] = []
    for n in range(shape.facts):
        kind: Kind = rng.choices(kinds, cum_weights=kind_weights)[0]
        if kind in ("reply", "boost", "bookmark", "delete") and not posts:
            kind = "post"
        at = end - shape.span_ms + int((n + rng.random()) * shape.span_ms / shape.facts)
        author = f"npub{rng.randrange(shape.authors):07d}"
        event_id = f"ev{n:08d}"
        if kind in ("post", "reply"):
            parent = rng.choice(posts)[0] if kind == "reply" else None
            topics = {f"topic-{i:05d}" for i in rng.choices(ranks, cum_weights=topic_weights)}
            if rng.random() < MULTI_TOPIC_SHARE:
                topics.add(f"topic-{rng.randrange(shape.topics):05d}")
            for topic in sorted(topics):
                yield Event(event_id, kind, topic, author, at, parent)
            posts.append((event_id, min(topics)))
            retractable.append(event_id)
        elif kind == "delete":
            yield Event(event_id, "delete", "topic-00000", author, at, rng.choice(retractable))
        else:
            target, topic = rng.choice(posts)
            yield Event(event_id, kind, topic, author, at, target)
            retractable.append(event_id)


async def build_db(path: Path, shape: Shape, *, seed: int, end: int) -> float:
    """Write the generated facts the way the app does, CHUNK facts per transaction; returns seconds."""
    began = time.perf_counter()
    conn = await connect_writer(path)
    try:
        await ensure_kukuri_tables(conn)
        await apply_migrations(conn)
        chunk: list[Event] = []
        for event in generate_events(shape, seed=seed, end=end):
            chunk.append(event)
            if len(chunk) >= CHUNK:
                await write_facts(conn, chunk)
                chunk = []
        await write_facts(conn, chunk)
    finally:
        await conn.close()
    return time.perf_counter() - began


def _table_sizes(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        links = conn.execute("SELECT COUNT(*) FROM event_topics").fetchone()[0]
        marks = conn.execute("SELECT COUNT(*) FROM bookmarks").fetchone()[0]
    return f"{events:,} events, {links:,} event_topics, {marks:,} bookmarks"


def _data(shape: Shape, path: Path) -> str:
    return f"{shape.facts:,} facts over {shape.span_ms // HOUR_MS} h, {shape.topics:,} topics ({_table_sizes(path)})"


async def _database(directory: Path, shape: Shape, *, seed: int, end: int) -> tuple[Path, float]:
    """The generated database for `shape` (reused when `--keep` already holds it) and its build time."""
    path = directory / f"recompute-{shape.facts}-{shape.topics}-{shape.authors}-{seed}.db"
    built = await build_db(path, shape, seed=seed, end=end) if not path.exists() else float("nan")
    return path, built


async def bench_recompute(directory: Path, shape: Shape, *, seed: int, boundary: int) -> list[list[str]]:
    path, built = await _database(directory, shape, seed=seed, end=boundary)
    settings = Settings()
    began = time.perf_counter()
    snapshot = await recompute_snapshot(path, boundary, settings.metrics.score_weights)
    took = time.perf_counter() - began
    return [[
        "recompute one boundary (E, 48 h read)", _data(shape, path),
        f"{len(snapshot.rows):,} topics", f"{took:.2f} s", f"{built:.1f} s",
    ]]


async def bench_api_reads(directory: Path, shape: Shape, *, seed: int, boundary: int) -> list[list[str]]:
    """The live fallback's first answer for E, and the posts of its ten top topics."""
    path, _ = await _database(directory, shape, seed=seed, end=boundary)
    fallback = LiveFallback(path, Settings().metrics.score_weights)
    began = time.perf_counter()
    ranking = await fallback.ranking(boundary)
    fallback_took = time.perf_counter() - began
    await fallback.close()
    top = [row.topic_id for row in ranking.rows[:10]]
    conn = await connect_reader(path)
    try:
        began = time.perf_counter()
        posts = await posts_for(conn, boundary, top, 5)
        posts_took = time.perf_counter() - began
    finally:
        await conn.close()
    return [
        ["API live fallback (recompute + ranking)", _data(shape, path), f"{len(ranking.rows):,} topics ranked",
         f"{fallback_took:.2f} s", "(same data)"],
        ["trending posts of the top 10 topics (5 each)", _data(shape, path),
         f"{sum(len(p) for p in posts.values())} posts", f"{posts_took:.2f} s", "(same data)"],
    ]


async def bench_backfill(directory: Path, facts: int, *, seed: int, until: int, minutes: int) -> list[str]:
    path = directory / f"backfill-{facts}-{seed}.db"
    shape = shape_for(facts, span_hours=48 + minutes // 60)
    built = await build_db(path, shape, seed=seed, end=until) if not path.exists() else float("nan")
    settings = replace(Settings(), database=DatabaseSettings(path=path))
    began = time.perf_counter()
    result = await backfill(settings, minutes=minutes, until=until)
    took = time.perf_counter() - began
    return [
        f"backfill --minutes {minutes} ({len(result.boundaries)} boundaries)",
        f"{facts:,} facts over {shape.span_ms // HOUR_MS} h ({_table_sizes(path)})",
        f"{result.history_rows:,} history rows", f"{took:.2f} s", f"{built:.1f} s",
    ]


async def bench_gaps(directory: Path, facts: int, *, seed: int) -> list[str]:
    """Gap repair works on the wall clock (the TTL ends now), so its data ends at the current boundary."""
    end = align_down(int(time.time() * 1000), 5 * 60_000)
    path = directory / f"gaps-{facts}-{seed}-{end}.db"
    shape = shape_for(facts, span_hours=96)
    built = await build_db(path, shape, seed=seed, end=end)
    settings = replace(Settings(), database=DatabaseSettings(path=path))
    began = time.perf_counter()
    result = await fill_gaps(settings, now=end)
    took = time.perf_counter() - began
    topics = sum(r.diff.recomputed for r in result.results)
    return [
        f"reconcile --gaps ({len(result.gaps)} boundaries, ttl 48 h, no runs yet)",
        f"{facts:,} facts over {shape.span_ms // HOUR_MS} h ({_table_sizes(path)})",
        f"{topics:,} rows written", f"{took:.2f} s", f"{built:.1f} s",
    ]


async def run(args: argparse.Namespace, directory: Path) -> list[list[str]]:
    # A fixed boundary: the data and the numbers do not depend on the day the benchmark runs.
    boundary = align_down(1_700_000_000_000, 5 * 60_000)
    rows = []
    for shape in [shape_for(n, span_hours=48) for n in args.facts] + [wide_shape(n) for n in args.wide]:
        rows += await bench_recompute(directory, shape, seed=args.seed, boundary=boundary)
    for n in args.wide:
        rows += await bench_api_reads(directory, wide_shape(n), seed=args.seed, boundary=boundary)
    rows.append(await bench_backfill(directory, args.backfill_facts, seed=args.seed, until=boundary, minutes=1440))
    rows.append(await bench_gaps(directory, args.backfill_facts, seed=args.seed))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--facts", type=int, nargs="+", default=[100_000, 1_000_000], help="recompute sizes")
    parser.add_argument("--wide", type=int, nargs="*", default=[1_000_000],
                        help="sizes of the high-cardinality case (50 facts per topic, 50 per author)")
    parser.add_argument("--backfill-facts", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated databases in this directory")
    args = parser.parse_args()
    header = ["operation", "data", "output", "time", "data generation"]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        rows = asyncio.run(run(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
            rows = asyncio.run(run(args, Path(tmp)))
    print(f"seed {args.seed}; Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
