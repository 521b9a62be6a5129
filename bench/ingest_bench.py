"""Ingest throughput through the real broker into a real worker process, at several numbers of
active topics, each next to two ceilings measured in the same run on the same broker and data:
the raw aiokafka consume rate, and consume + decode + validate (`streams.events.parse_event`).

    python -m bench.ingest_bench [--events 300000] [--topics 5000,100000] [--rounds 3]

Each topic count is folded by a fresh worker with the default profile, with a capped linear profile
as a shadow (per-author boosts and self-boost classification), and with the built-in `rising`
profile as a shadow (the same plus its 6 h baseline window). A round measures both ceilings and
the three workers, one after the other; the tables give the median of `--rounds` rounds, and the
range of the ratio to the ceiling over the rounds (each round's worker against that round's
ceiling). On a shared machine one run moves by about 10 %; the median of three does not.

Per topic count, the events are produced first: one post for every topic inside the last 24 h
(so every topic is active), then `--events` facts of skewed synthetic traffic over the last 26 h
(24 h and 6 h windows, ~2 % duplicates, deletes, reordering). A fresh `kukuri-trending worker`
then starts with an empty data dir, and its rate is the backlog over the time from partition
assignment to caught-up. RSS is the worker's resident memory when caught up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import median

from aiokafka import AIOKafkaConsumer

from broker.embedded import EmbeddedBroker
from broker.topics import ensure_topics
from observability.fold_build import fold_build
from producer.sender import new_producer, send_records
from producer.synthetic import TrafficGenerator, delivery, topic_id
from streams.events import Event, parse_event
from streams.windows import HOUR_MS

PARTITIONS = 4
SEED = 42


@dataclass(frozen=True)
class Rate:
    """Events per wall-clock second, and per CPU second of the process doing the work: on a shared
    machine the second is the steadier number."""

    wall: float
    cpu: float


@dataclass(frozen=True)
class Result:
    """One round, or the median of each field over rounds (`median_of`)."""

    topics: int
    events: int
    raw: Rate
    decoded: Rate
    ingest: Rate
    seconds: float
    rss_mb: int
    active_topics: int
    capped: Rate  # the same backlog with a capped linear profile as a shadow (per-author caps only)
    capped_rss_mb: int
    guarded: Rate  # the same backlog with the built-in rising profile as a shadow
    guarded_rss_mb: int
    ratios: tuple[Rate, ...] = ()
    """Each round's worker against the decode ceiling of the same round."""

    @property
    def ratio(self) -> Rate:
        """The median over rounds of the worker against its round's decode ceiling."""
        return Rate(median(r.wall for r in self.ratios), median(r.cpu for r in self.ratios))


def median_of(rounds: list[Result]) -> Result:
    def rate(pick: Callable[[Result], Rate]) -> Rate:
        return Rate(median(pick(r).wall for r in rounds), median(pick(r).cpu for r in rounds))

    def number(pick: Callable[[Result], float]) -> float:
        return median(pick(r) for r in rounds)

    first = rounds[0]
    return Result(
        first.topics, first.events, rate(lambda r: r.raw), rate(lambda r: r.decoded), rate(lambda r: r.ingest),
        number(lambda r: r.seconds), int(number(lambda r: r.rss_mb)), int(number(lambda r: r.active_topics)),
        rate(lambda r: r.capped), int(number(lambda r: r.capped_rss_mb)), rate(lambda r: r.guarded),
        int(number(lambda r: r.guarded_rss_mb)),
        tuple(Rate(r.ingest.wall / r.decoded.wall, r.ingest.cpu / r.decoded.cpu) for r in rounds),
    )


# Per-author caps and the self-boost rule alone (what `rising` adds minus its baseline window).
CAPPED_SHADOW = (
    'shadow_profiles = ["capped"]\n[metrics.score_profiles.capped]\nauthor_cap = 5\ncount_self_boosts = false'
)
RISING_SHADOW = 'shadow_profiles = ["rising"]'

def bench_events(topics: int, facts: int, now: int) -> Iterator[Event]:
    rng = random.Random(SEED)
    for i in range(topics):
        yield Event(f"seed-{i:06d}", "post", topic_id(i), f"npub-seed-{i % 997:03d}", now - rng.randrange(23 * HOUR_MS))
    yield from delivery(TrafficGenerator(topics, seed=SEED).actions(now - 26 * HOUR_MS, now, facts), rng)


async def produce(bootstrap: str, topic: str, events: Iterator[Event]) -> int:
    records = [(e.key(), e.to_json()) for e in events]
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for i in range(0, len(records), 20_000):
            await send_records(producer, topic, records[i : i + 20_000])
    finally:
        await producer.stop()
    return len(records)


async def consume_rate(bootstrap: str, topic: str, expect: int, decode: bool) -> Rate:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        seen = 0
        now = int(time.time() * 1000)
        started, started_cpu = time.perf_counter(), time.process_time()
        while seen < expect:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                seen += len(records)
                if decode:
                    for r in records:
                        parse_event(r.value, now_ms=now)
        return Rate(seen / (time.perf_counter() - started), seen / (time.process_time() - started_cpu))
    finally:
        await consumer.stop()


def worker_rate(
    bootstrap: str, topic: str, root: Path, expect: int, metrics: str = ""
) -> tuple[Rate, float, int, int]:
    """(rate, seconds, RSS MB, active topics) of a fresh worker folding the backlog; `metrics` is
    extra `[metrics]` configuration (score profiles).

    The wall-clock rate uses the worker's own log times; the CPU rate, the worker's CPU time
    between the moments this loop first sees the assignment and the catch-up (polled every 50 ms).
    """
    root.mkdir(parents=True, exist_ok=True)
    config = root / "app.toml"
    config.write_text(f"""
[kafka]
broker = "kafka://{bootstrap}"
events_topic = "{topic}"
dlq_topic = "{topic}.dlq"
group_id = "{topic}-{os.getpid()}"
partitions = {PARTITIONS}
session_timeout_seconds = 3.0
heartbeat_interval_seconds = 1.0
[database]
path = "{root / 'kukuri.db'}"
[stream]
data_dir = "{root / 'state'}"
[metrics]
{metrics}
""")
    subprocess.run([sys.executable, "-m", "cli.main", "--config", str(config), "migrate"], check=True,
                   stdout=subprocess.DEVNULL)
    log_path = root / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--config", str(config), "--log-format", "json",
                                 "worker"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 900
        cpu_at_assignment = None
        while time.monotonic() < deadline:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            assigned = [line["time"] for line in lines if line.get("event") == "trending_stream.partition_assigned"]
            done = [line for line in lines if line.get("event") == "trending_stream.caught_up"]
            if assigned and cpu_at_assignment is None:
                cpu_at_assignment = _cpu_seconds(proc.pid)
            if done and cpu_at_assignment is not None:
                cpu = _cpu_seconds(proc.pid) - cpu_at_assignment
                rss_kb = int(next(x for x in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                                  if x.startswith("VmRSS")).split()[1])
                seconds = _ts(done[0]["time"]) - _ts(assigned[0])
                rate = Rate(expect / seconds, expect / cpu)
                return rate, seconds, rss_kb // 1024, int(done[0].get("active_topics", 0))
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        raise TimeoutError("the worker did not catch up within 15 minutes")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_one(broker: EmbeddedBroker, root: Path, topics: int, facts: int, rounds: int) -> Result:
    topic = f"bench.events.{topics}"
    asyncio.run(ensure_topics(broker.bootstrap, {topic: PARTITIONS, f"{topic}.dlq": PARTITIONS}))
    produced = asyncio.run(produce(broker.bootstrap, topic, bench_events(topics, facts, int(time.time() * 1000))))
    return median_of([run_round(broker, root / f"{topics}.{i}", topics, topic, produced) for i in range(rounds)])


def run_round(broker: EmbeddedBroker, root: Path, topics: int, topic: str, produced: int) -> Result:
    raw = asyncio.run(consume_rate(broker.bootstrap, topic, produced, decode=False))
    decoded = asyncio.run(consume_rate(broker.bootstrap, topic, produced, decode=True))
    rate, seconds, rss_mb, active = worker_rate(broker.bootstrap, topic, root / "default", produced)
    capped, _, capped_rss, _ = worker_rate(broker.bootstrap, topic, root / "capped", produced, metrics=CAPPED_SHADOW)
    guarded, _, guarded_rss, _ = worker_rate(broker.bootstrap, topic, root / "rising", produced, metrics=RISING_SHADOW)
    return Result(topics, produced, raw, decoded, rate, seconds, rss_mb, active, capped, capped_rss, guarded,
                  guarded_rss)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="facts of synthetic traffic per run (300000)")
    parser.add_argument("--topics", default="5000,100000", help="comma-separated topic counts (5000,100000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per topic count; medians are reported (3)")
    args = parser.parse_args(argv)
    counts = [int(t) for t in args.topics.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(log_path=Path(tmp) / "tansu.log")
        broker.start_sync()
        try:
            for topics in counts:
                results.append(run_one(broker, Path(tmp), topics, args.events, args.rounds))
        finally:
            broker.stop_sync()
    print(f"{args.events:,} facts of skewed traffic plus one post per topic, 24h + 6h windows, duplicates, deletes, "
          f"reordering; {PARTITIONS} partitions, one worker, os.cpu_count()={os.cpu_count()}; {fold_build().summary()}")
    print(f"Medians of {args.rounds} rounds. Rates are events per wall-clock second, then per CPU second of the "
          "process doing the work; the ratio is the median of each round's worker against its own ceiling, and its "
          "range (wall clock) is over the rounds.")
    print("| topics | active | events | raw consume/s | consume+decode+validate/s | worker ingest/s "
          "| ingest / decode ceiling | ratio range | seconds | worker RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.topics:,} | {r.active_topics:,} | {r.events:,} | {_rate(r.raw)} | {_rate(r.decoded)} "
              f"| {_rate(r.ingest)} | {r.ratio.wall:.0%} / {r.ratio.cpu:.0%} "
              f"| {min(x.wall for x in r.ratios):.0%}-{max(x.wall for x in r.ratios):.0%} | {r.seconds:.1f} "
              f"| {r.rss_mb} |")
    print("\nThe same backlog, a fresh worker computing a shadow profile: `capped` (author_cap = 5, self-boosts"
          " left out: per-author boosts kept and every boost classified) and the built-in `rising` (the same,"
          " plus its 6 h baseline window as a fourth running window):")
    print("| topics | shadow | worker ingest/s | against the default worker (wall / cpu) | worker RSS MB |")
    print("|---:|---|---:|---:|---:|")
    for r in results:
        for name, rate, rss in (("capped", r.capped, r.capped_rss_mb), ("rising", r.guarded, r.guarded_rss_mb)):
            print(f"| {r.topics:,} | {name} | {_rate(rate)} | {rate.wall / r.ingest.wall - 1:+.0%} / "
                  f"{rate.cpu / r.ingest.cpu - 1:+.0%} | {rss} |")


def _rate(rate: Rate) -> str:
    return f"{rate.wall:,.0f} / {rate.cpu:,.0f}"


if __name__ == "__main__":
    main()
