"""Latency of GET /api/trending/topics?limit=10 over a 100k-topic snapshot, server in its own process.

    .venv/bin/python -m bench.api_bench [--topics 100000] [--requests 2000] [--seed 7] [--keep DIR]

Builds an app database with two committed snapshots of `--topics` topics each (so every answer
computes score changes) and a `topics` row per topic, starts `kukuri-trending api` in a separate
process, warms up, then times sequential requests on one keep-alive connection from this process.
It also times the first request after a rewrite of the current snapshot (the ranking cache misses).
Same seed, same data. Prints a Markdown table (the one in docs/benchmarks.md) and exits 1 when
p99 exceeds `--max-p99-ms` (20), so it can gate a change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, upsert_topics
from sinks.migrate import apply_migrations
from sinks.snapshot_writer import now_ms, write_snapshot
from streams.metrics import TopicMetrics
from streams.windows import HOUR_MS, MINUTE_MS, align_down

REPO = Path(__file__).resolve().parents[1]
INTERVAL_MS = 5 * MINUTE_MS


def snapshot_rows(topics: int, window_end: int, rng: random.Random) -> list[TopicMetrics]:
    """One snapshot: counts with a long tail, as real topics have; scores by the default weights."""
    rows = []
    stamp = now_ms()
    for i in range(topics):
        posts = int(rng.paretovariate(1.2))
        authors = max(1, int(posts * rng.uniform(0.3, 1.0)))
        boosts = int(rng.paretovariate(1.5)) - 1
        posts_6h = rng.randint(0, posts)
        rows.append(TopicMetrics(
            topic_id=f"topic-{i:06d}", window_start=window_end - 24 * HOUR_MS, window_end=window_end,
            posts_24h=posts, posts_6h=posts_6h, unique_authors=authors, boosts=boosts, replies=posts // 3,
            bookmarks=boosts // 2, participant_delta=rng.randint(-3, 3),
            score_24h=posts * 0.6 + authors * 0.3 + boosts * 0.1,
            score_6h=posts_6h * 0.6 + min(authors, posts_6h) * 0.3, updated_at=stamp,
            unique_authors_6h=min(authors, posts_6h), boosts_6h=0, replies_6h=0, bookmarks_6h=0,
            participants_24h=authors + boosts,
        ))
    return rows


async def build(db: Path, topics: int, seed: int, current: int) -> None:
    rng = random.Random(seed)
    conn = await connect_writer(db)
    try:
        await ensure_kukuri_tables(conn)
        await apply_migrations(conn)
        await upsert_topics(conn, [(f"topic-{i:06d}", f"Topic {i}", f"About topic {i}") for i in range(topics)], 0)
        for window_end in (current - INTERVAL_MS, current):
            await write_snapshot(conn, window_end, snapshot_rows(topics, window_end, rng), source="stream", ttl_hours=48)
    finally:
        await conn.close()


async def rewrite(db: Path, topics: int, seed: int, current: int) -> None:
    conn = await connect_writer(db)
    try:
        rows = snapshot_rows(topics, current, random.Random(seed + 1))
        await write_snapshot(conn, current, rows, source="reconcile", ttl_hours=48)
    finally:
        await conn.close()


def start_api(db: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "KUKURI_DATABASE_PATH": str(db)}
    env.pop("KUKURI_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--log-format", "json", "--log-level", "WARNING", "api", "--port", "0"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "serving " not in line:
        proc.kill()
        raise SystemExit(f"the API did not start: {line!r}")
    return proc, line.split("serving ", 1)[1].split()[0]


async def timed_get(session: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with session.get(url) as response:
        body = await response.json()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200 or len(body["topics"]) != 10 or body["data_source"] != "metrics":
        raise SystemExit(f"unexpected answer: {response.status} {str(body)[:200]}")
    return elapsed


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(args: argparse.Namespace, db: Path, current: int) -> tuple[list[float], list[float]]:
    proc, base = start_api(db)
    url = f"{base}/api/trending/topics?limit=10"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(args.warmup):
                await timed_get(session, url)
            steady = [await timed_get(session, url) for _ in range(args.requests)]
            await rewrite(db, args.topics, args.seed, current)
            after_commit = [await timed_get(session, url) for _ in range(5)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    return steady, after_commit


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-p99-ms", type=float, default=20.0)
    parser.add_argument("--keep", type=Path, help="build the database in this directory and keep it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "api-bench.db"
        for stale in folder.glob("api-bench.db*"):
            stale.unlink()
        current = align_down(now_ms(), INTERVAL_MS)
        started = time.perf_counter()
        asyncio.run(build(db, args.topics, args.seed, current))
        build_s = time.perf_counter() - started
        steady, after_commit = asyncio.run(measure(args, db, current))

    p50, p90, p99 = (percentile(steady, p) for p in (50, 90, 99))
    print(f"# GET /api/trending/topics?limit=10, {args.topics:,} topics per snapshot (seed {args.seed})")
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"database built in {build_s:.1f} s")
    print()
    print("| measurement | requests | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| steady state (cached ranking) | {len(steady)} | {p50:.2f} | {p90:.2f} | {p99:.2f} "
          f"| {max(steady):.2f} | {statistics.fmean(steady):.2f} |")
    print(f"| first request after a commit (cache miss) | 1 | {after_commit[0]:.2f} | | | | |")
    print(f"| the next 4 | 4 | {statistics.median(after_commit[1:]):.2f} | | | {max(after_commit[1:]):.2f} | |")
    if p99 >= args.max_p99_ms:
        print(f"\nFAIL: p99 {p99:.2f} ms is not below {args.max_p99_ms} ms", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
