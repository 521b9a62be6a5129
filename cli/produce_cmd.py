"""`kukuri-trending produce`: send events from a JSON-lines file, or synthetic traffic."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from cli.args import add_command, int_between, positive_float
from cli.broker_address import NoBrokerError, resolve_bootstrap
from cli.errors import OperatorError, require_database
from config.settings import Settings
from producer.sender import EventProducer, SyntheticTraffic, running_producer, send_records
from producer.synthetic import TrafficGenerator
from streams.events import Event, InvalidEvent, parse_event


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "produce", summary="send events: a JSON-lines file, or synthetic traffic",
        description="Send events to kafka.events_topic: each line of a JSON-lines file (validated first;"
        " nothing is sent if a line is bad, unless --raw), or synthetic kukuri traffic at --rate"
        " events per second. The event format is described in docs/events.md.",
        examples=["produce --file events.jsonl", "produce --rate 50 --topics 200 --duration 60",
                  "produce --rate 40 --history 20000 --app-db"],
    )
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
        print(f"kukuri-trending produce: error: {exc}", file=sys.stderr)
        return 1
    if args.file is not None:
        return await _send_file(args, settings, bootstrap)
    if args.app_db:
        require_database(settings)
    async with running_producer(bootstrap) as producer:
        traffic = SyntheticTraffic(
            producer, settings.kafka.events_topic, TrafficGenerator(args.topics, seed=args.seed),
            app_db=settings.database.path if args.app_db else None, seed=args.seed,
        )
        await traffic.prepare_app_db()
        if args.history:
            await traffic.history(args.history, 24, int(time.time() * 1000))
        await traffic.live(args.rate, args.duration)
    _report(args, {"sent": traffic.stats.sent, "facts": traffic.stats.facts, "seconds": round(traffic.stats.seconds, 2)})
    return 0


async def _send_file(args: argparse.Namespace, settings: Settings, bootstrap: str) -> int:
    lines = _read_lines(args.file)
    if args.raw:
        async with running_producer(bootstrap) as raw_producer:
            sent = await send_records(
                raw_producer, settings.kafka.events_topic, ((_topic_key(line), line) for _, line in lines))
    else:
        events = _validate(args.file, lines, settings.stream.max_clock_skew_seconds * 1000)
        async with EventProducer(bootstrap, settings.kafka.events_topic) as producer:
            for event in events:
                await producer.send(event)
        sent = producer.sent
    _report(args, {"sent": sent, "topic": settings.kafka.events_topic})
    return 0


def _read_lines(path: Path) -> list[tuple[int, bytes]]:
    """The non-blank lines of the file (or stdin for '-'), with their line numbers."""
    try:
        text = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise OperatorError(f"--file: cannot read {path}: {exc.strerror}") from exc
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _validate(path: Path, lines: list[tuple[int, bytes]], max_skew_ms: int) -> list[Event]:
    """Every line as an event; the first bad one stops everything before anything is sent."""
    now = int(time.time() * 1000)
    events = []
    for number, line in lines:
        try:
            events.append(parse_event(line, now_ms=now, max_skew_ms=max_skew_ms))
        except InvalidEvent as exc:
            raise OperatorError(f"{path}:{number}: {exc} (nothing was sent; --raw sends as is)") from None
    return events


def _topic_key(line: bytes) -> bytes | None:
    """The Kafka key of a `--raw` line: its topic_id when it has one. A raw line is sent whatever it
    holds (that is the point of --raw), so any failure to read it, a RecursionError from deep nesting
    included, only means "no key"."""
    try:
        topic = json.loads(line).get("topic_id")
    except Exception:
        return None
    return topic.encode() if isinstance(topic, str) else None


def _report(args: argparse.Namespace, summary: dict[str, object]) -> None:
    if args.json:
        print(json.dumps(summary))
    else:
        print(", ".join(f"{k}: {v}" for k, v in summary.items()))
