"""`kukuri-trending produce`: send events from a JSON-lines file, or synthetic traffic."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cli.args import int_between, positive_float
from cli.broker_address import NoBrokerError, resolve_bootstrap
from config.settings import Settings
from producer.sender import SyntheticTraffic, new_producer, send_records
from producer.synthetic import TrafficGenerator
from streams.events import InvalidEvent, parse_event


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("produce", help="send events: a JSON-lines file, or synthetic traffic")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="JSON-lines file, one event per line ('-' for stdin)")
    source.add_argument("--rate", type=positive_float, help="synthetic traffic: events per second")
    parser.add_argument("--raw", action="store_true", help="with --file: send lines as they are, unvalidated")
    parser.add_argument("--topics", type=int_between(1, 1_000_000), default=50, help="synthetic: topics (50)")
    parser.add_argument("--duration", type=positive_float, help="synthetic: seconds to run (default: until Ctrl-C)")
    parser.add_argument("--history", type=int_between(0), default=0,
                        help="synthetic: first send this many back-dated facts spread over the last 24 h")
    parser.add_argument("--seed", type=int, default=1, help="synthetic: random seed (1)")
    parser.add_argument("--app-db", action="store_true",
                        help="synthetic: also write the facts into the app database's kukuri tables")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        bootstrap = resolve_bootstrap(settings)
    except NoBrokerError as exc:
        print(f"kukuri-trending produce: {exc}", file=sys.stderr)
        return 1
    if args.file is not None:
        records = _read_file(args.file, raw=args.raw)
        if records is None:
            return 1
        producer = new_producer(bootstrap)
        await producer.start()
        try:
            sent = await send_records(producer, settings.kafka.events_topic, records)
        finally:
            await producer.stop()
        _report(args, {"sent": sent, "topic": settings.kafka.events_topic})
        return 0
    producer = new_producer(bootstrap)
    await producer.start()
    traffic = SyntheticTraffic(
        producer, settings.kafka.events_topic, TrafficGenerator(args.topics, seed=args.seed),
        app_db=settings.database.path if args.app_db else None, seed=args.seed,
    )
    try:
        await traffic.prepare_app_db()
        if args.history:
            await traffic.history(args.history, 24, int(time.time() * 1000))
        await traffic.live(args.rate, args.duration)
    finally:
        await producer.stop()
    _report(args, {"sent": traffic.stats.sent, "facts": traffic.stats.facts, "seconds": round(traffic.stats.seconds, 2)})
    return 0


def _read_file(path: Path, *, raw: bool) -> list[tuple[bytes | None, bytes]] | None:
    """Every line as (key, value); validated unless raw. None (after printing why) when a line is bad."""
    try:
        text = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        print(f"kukuri-trending produce: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None
    records: list[tuple[bytes | None, bytes]] = []
    now = int(time.time() * 1000)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if raw:
            records.append((_topic_key(line), line))
            continue
        try:
            event = parse_event(line, now_ms=now)
        except InvalidEvent as exc:
            print(f"kukuri-trending produce: {path}:{number}: {exc} (nothing was sent; --raw sends as is)",
                  file=sys.stderr)
            return None
        records.append((event.key(), event.to_json()))
    return records


def _topic_key(line: bytes) -> bytes | None:
    try:
        topic = json.loads(line).get("topic_id")
    except (ValueError, AttributeError):
        return None
    return topic.encode() if isinstance(topic, str) else None


def _report(args: argparse.Namespace, summary: dict[str, object]) -> None:
    if args.json:
        print(json.dumps(summary))
    else:
        print(", ".join(f"{k}: {v}" for k, v in summary.items()))
