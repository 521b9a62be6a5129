"""Ingest throughput through the real broker into a real worker process, next to the raw
aiokafka consume rate measured on the same broker and data (the ceiling).

    python -m bench.ingest_bench [--events 300000] [--topics 5000]

The events (24 h and 6 h windows, ~2 % duplicates, deletes, reordering, skewed topics) are
produced first; then a fresh `kukuri-trending worker` starts with an empty data dir and the
table reports how fast it folds the backlog, from partition assignment to caught-up.
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
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from broker.embedded import EmbeddedBroker
from broker.topics import ensure_topics
from producer.sender import new_producer, send_records
from producer.synthetic import TrafficGenerator, delivery
from streams.events import parse_event
from streams.windows import HOUR_MS

PARTITIONS = 4


async def produce(bootstrap: str, topic: str, events: int, topics: int) -> int:
    now = int(time.time() * 1000)
    generator = TrafficGenerator(topics, seed=42)
    records = [(e.key(), e.to_json()) for e in delivery(generator.actions(now - 26 * HOUR_MS, now, events),
                                                        random.Random(42))]
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for i in range(0, len(records), 20_000):
            await send_records(producer, topic, records[i : i + 20_000])
    finally:
        await producer.stop()
    return len(records)


async def raw_consume(bootstrap: str, topic: str, expect: int, decode: bool) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < expect:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                seen += len(records)
                if decode:
                    for r in records:
                        parse_event(r.value)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def worker_rate(bootstrap: str, topic: str, root: Path, expect: int) -> tuple[float, int, float]:
    config = root / "app.toml"
    config.write_text(f"""
[kafka]
broker = "kafka://{bootstrap}"
events_topic = "{topic}"
dlq_topic = "{topic}.dlq"
group_id = "bench-{os.getpid()}"
partitions = {PARTITIONS}
session_timeout_seconds = 3.0
heartbeat_interval_seconds = 1.0
[database]
path = "{root / 'kukuri.db'}"
[stream]
data_dir = "{root / 'state'}"
""")
    log_path = root / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--config", str(config), "--log-format", "json",
                                 "worker"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
            assigned = [line["time"] for line in lines if line.get("event") == "trending_stream.partition_assigned"]
            done = [line["time"] for line in lines if line.get("event") == "trending_stream.caught_up"]
            if done:
                rss_kb = int(next(x for x in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                                  if x.startswith("VmRSS")).split()[1])
                seconds = (_ts(done[0]) - _ts(assigned[0]))
                return expect / seconds, rss_kb // 1024, seconds
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        raise TimeoutError("the worker did not catch up within 10 minutes")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000, help="facts to generate (300000)")
    parser.add_argument("--topics", type=int, default=5000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker(log_path=Path(tmp) / "tansu.log")
        broker.start_sync()
        try:
            topic = "bench.events"
            asyncio.run(ensure_topics(broker.bootstrap, {topic: PARTITIONS, f"{topic}.dlq": PARTITIONS}))
            produced = asyncio.run(produce(broker.bootstrap, topic, args.events, args.topics))
            raw = asyncio.run(raw_consume(broker.bootstrap, topic, produced, decode=False))
            decoded = asyncio.run(raw_consume(broker.bootstrap, topic, produced, decode=True))
            rate, rss_mb, seconds = worker_rate(broker.bootstrap, topic, Path(tmp), produced)
        finally:
            broker.stop_sync()
    print(f"{produced:,} events ({args.events:,} facts over {args.topics:,} topics, 24h + 6h windows, "
          f"duplicates, deletes, reordering), {PARTITIONS} partitions, one worker")
    print("| path | events/s | notes |")
    print("|---|---:|---|")
    print(f"| raw aiokafka consume (ceiling) | {raw:,.0f} | getmany, no decoding |")
    print(f"| raw aiokafka consume + decode/validate | {decoded:,.0f} | streams.events.parse_event |")
    print(f"| kukuri-trending worker ingest | {rate:,.0f} | {seconds:.1f} s from assignment to caught-up; "
          f"RSS {rss_mb} MB |")


if __name__ == "__main__":
    main()
