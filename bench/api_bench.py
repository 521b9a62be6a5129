"""The read API under load: latency and throughput over a 100k-topic snapshot, server in its own process.

    .venv/bin/python -m bench.api_bench [--topics 100000] [--requests 2000] [--duration 5] [--seed 7]

Builds an app database with two committed snapshots of `--topics` topics each (so every answer
computes score changes), a `topics` row per topic and a day of posts, replies and boosts; starts
`kukuri-trending api` in a separate process, and beside it a bare aiohttp server that answers every
request with a fixed body (the API's own topics answer), as the ceiling this machine allows.

From this process it then measures
- sequential `GET /api/trending/topics?limit=10` on one keep-alive connection (`--requests`), and the
  first requests after a rewrite of the current snapshot (every cache misses);
- 10 and 50 concurrent keep-alive clients on the bare handler, on `/api/trending/topics?limit=10`
  and on `/api/trending/posts`, each for `--duration` seconds or `--max-requests` requests, after a
  one-second warm-up. The load comes from a minimal HTTP/1.1 client on raw asyncio streams, so the
  client is not what limits the numbers.
Same seed, same data. Prints Markdown tables (the ones in docs/benchmarks.md) and exits 1 when
sequential p99 or 50-client p99 on the topics endpoint is not below `--max-p99-ms` (20), or when
50 clients get less than a third of the bare handler's throughput there, so it can gate a change.
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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from api.ranking import rank_key
from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, upsert_topics, write_facts
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import now_ms, write_snapshot
from streams.events import Event, Kind
from streams.metrics import TopicMetrics
from streams.windows import HOUR_MS, MINUTE_MS, align_down

REPO = Path(__file__).resolve().parents[1]
INTERVAL_MS = 5 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


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


def day_of_facts(topic_ids: list[str], count: int, current: int, rng: random.Random) -> list[Event]:
    """Posts, replies and boosts of the last 24 h over `topic_ids`, crowded on the first ones."""
    facts: list[Event] = []
    posts: dict[str, list[str]] = {}
    for i in range(count):
        topic = topic_ids[min(len(topic_ids) - 1, int(rng.paretovariate(0.8)) - 1)]
        earlier = posts.get(topic)
        kind: Kind = "post" if not earlier else rng.choice(("post", "post", "reply", "boost"))
        target = rng.choice(earlier) if earlier and kind != "post" else None
        event_id = f"fact-{i:07d}"
        facts.append(Event(event_id, kind, topic, f"author-{rng.randrange(5000)}", current - rng.randrange(1, DAY_MS), target))
        if kind in ("post", "reply"):
            posts.setdefault(topic, []).append(event_id)
    return facts


async def build(db: Path, topics: int, facts: int, seed: int, current: int) -> None:
    """Two snapshots, and facts on the current snapshot's top topics first, so the default
    `/api/trending/posts` (the top 10) has posts to rank."""
    rng = random.Random(seed)
    snapshots = {window_end: snapshot_rows(topics, window_end, rng) for window_end in (current - INTERVAL_MS, current)}
    by_rank = [row.topic_id for row in sorted(snapshots[current], key=rank_key)]
    conn = await connect_writer(db)
    try:
        await ensure_kukuri_tables(conn)
        await apply_migrations(conn)
        await upsert_topics(conn, [(f"topic-{i:06d}", f"Topic {i}", f"About topic {i}") for i in range(topics)], 0)
        await write_facts(conn, day_of_facts(by_rank, facts, current, rng))
        for window_end, rows in snapshots.items():
            await write_snapshot(conn, window_end, rows, source="stream", ttl_hours=48)
    finally:
        await conn.close()


async def rewrite(db: Path, topics: int, seed: int, current: int) -> None:
    conn = await connect_writer(db)
    try:
        rows = snapshot_rows(topics, current, random.Random(seed + 1))
        await write_snapshot(conn, current, rows, source="reconcile", ttl_hours=48)
    finally:
        await conn.close()


def start_server(argv: list[str], db: Path) -> tuple[subprocess.Popen[str], str]:
    """Start a server process that prints one `... serving URL ...` line; return it and its URL."""
    env = {**os.environ, "KUKURI_DATABASE_PATH": str(db)}
    env.pop("KUKURI_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", *argv], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if "serving " not in line:
        proc.kill()
        raise SystemExit(f"{argv[0]} did not start: {line!r}")
    return proc, line.split("serving ", 1)[1].split()[0]


def start_api(db: Path) -> tuple[subprocess.Popen[str], str]:
    return start_server(["cli.main", "--log-format", "json", "--log-level", "WARNING", "api", "--port", "0"], db)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def serve_bare(body_file: Path) -> None:
    """A bare aiohttp handler answering every GET with the bytes of `body_file`, until SIGTERM."""
    body = body_file.read_bytes()

    async def fixed(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", fixed)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"bare handler: serving http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    await runner.cleanup()


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


@dataclass
class Load:
    """What `clients` keep-alive connections got from one URL in `seconds`."""

    label: str
    clients: int
    latencies_ms: list[float]
    seconds: float
    failures: int

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds


async def _get_loop(url: str, until: float, budget: list[int], latencies: list[float]) -> int:
    """One keep-alive connection sending GETs back to back; returns how many were not a 200."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
    reader, writer = await asyncio.open_connection(host, port)
    failures = 0
    try:
        while budget[0] > 0 and time.perf_counter() < until:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            failures += head[9:12] != b"200"
    finally:
        writer.close()
    return failures


async def load(label: str, url: str, clients: int, seconds: float, max_requests: int) -> Load:
    await asyncio.gather(*(_get_loop(url, time.perf_counter() + 1.0, [10**9], []) for _ in range(clients)))  # warm-up
    latencies: list[float] = []
    started = time.perf_counter()
    failures = await asyncio.gather(
        *(_get_loop(url, started + seconds, [max_requests // clients], latencies) for _ in range(clients))
    )
    return Load(label, clients, latencies, time.perf_counter() - started, sum(failures))


async def measure(
    args: argparse.Namespace, db: Path, current: int, scratch: Path
) -> tuple[list[float], list[float], list[Load], int]:
    proc, base = start_api(db)
    bare: subprocess.Popen[str] | None = None
    topics_url = f"{base}/api/trending/topics?limit=10"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(topics_url) as response:
                body_file = scratch / "bare-body.json"
                body_file.write_bytes(await response.read())
            async with session.get(f"{base}/api/trending/posts") as response:
                posts = sum(len(topic["posts"]) for topic in (await response.json())["topics"])
            bare, bare_url = start_server(["bench.api_bench", "--serve-bare", str(body_file)], db)
            for _ in range(args.warmup):
                await timed_get(session, topics_url)
            steady = [await timed_get(session, topics_url) for _ in range(args.requests)]
        loads = []
        for clients in (10, 50):
            for label, url in (
                ("bare aiohttp handler", f"{bare_url}/"),
                ("/api/trending/topics?limit=10", topics_url),
                ("/api/trending/posts", f"{base}/api/trending/posts"),
            ):
                loads.append(await load(label, url, clients, args.duration, args.max_requests))
        await rewrite(db, args.topics, args.seed, current)
        async with aiohttp.ClientSession() as session:
            after_commit = [await timed_get(session, topics_url) for _ in range(5)]
    finally:
        stop(proc)
        if bare is not None:
            stop(bare)
    return steady, after_commit, loads, posts


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=20_000, help="posts, replies and boosts in the last 24 h")
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per concurrent measurement")
    parser.add_argument("--max-requests", type=int, default=100_000, help="requests per concurrent measurement")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-p99-ms", type=float, default=20.0)
    parser.add_argument("--keep", type=Path, help="build the database in this directory and keep it")
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        asyncio.run(serve_bare(args.serve_bare))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "api-bench.db"
        for stale in folder.glob("api-bench.db*"):
            stale.unlink()
        current = align_down(now_ms(), INTERVAL_MS)
        started = time.perf_counter()
        asyncio.run(build(db, args.topics, args.posts, args.seed, current))
        build_s = time.perf_counter() - started
        steady, after_commit, loads, posts = asyncio.run(measure(args, db, current, Path(scratch)))

    p50, p90, p99 = (percentile(steady, p) for p in (50, 90, 99))
    print(f"# read API, {args.topics:,} topics per snapshot, {args.posts:,} facts in the last 24 h (seed {args.seed})")
    print(f"# {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"database built in {build_s:.1f} s; /api/trending/posts answers {posts} posts")
    print()
    print("| GET /api/trending/topics?limit=10, one client | requests | p50 ms | p90 ms | p99 ms | max ms | mean ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| steady state | {len(steady)} | {p50:.2f} | {p90:.2f} | {p99:.2f} "
          f"| {max(steady):.2f} | {statistics.fmean(steady):.2f} |")
    print(f"| first request after a commit (cache miss) | 1 | {after_commit[0]:.2f} | | | | |")
    print(f"| the next 4 | 4 | {statistics.median(after_commit[1:]):.2f} | | | {max(after_commit[1:]):.2f} | |")
    print()
    print(f"| concurrent keep-alive clients, {args.duration:g} s each | clients | requests | req/s | of bare "
          "| p50 ms | p99 ms | max ms | not 200 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    bare_rate = {}
    for result in loads:
        if result.label.startswith("bare"):
            bare_rate[result.clients] = result.per_second
        share = result.per_second / bare_rate[result.clients]
        print(f"| {result.label} | {result.clients} | {len(result.latencies_ms)} | {result.per_second:,.0f} "
              f"| {share:.0%} | {percentile(result.latencies_ms, 50):.2f} | {percentile(result.latencies_ms, 99):.2f} "
              f"| {max(result.latencies_ms):.2f} | {result.failures} |")
    return gate(args, p99, loads, bare_rate)


def gate(args: argparse.Namespace, sequential_p99: float, loads: list[Load], bare_rate: dict[int, float]) -> int:
    problems = []
    if sequential_p99 >= args.max_p99_ms:
        problems.append(f"sequential p99 {sequential_p99:.2f} ms is not below {args.max_p99_ms} ms")
    (topics50,) = (r for r in loads if r.clients == 50 and r.label.startswith("/api/trending/topics"))
    p99_50 = percentile(topics50.latencies_ms, 99)
    if p99_50 >= args.max_p99_ms:
        problems.append(f"50-client p99 {p99_50:.2f} ms is not below {args.max_p99_ms} ms")
    if topics50.per_second < bare_rate[50] / 3:
        problems.append(f"50 clients get {topics50.per_second:,.0f} req/s, less than a third of the bare handler's")
    if any(r.failures for r in loads):
        problems.append("some answers were not 200")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
