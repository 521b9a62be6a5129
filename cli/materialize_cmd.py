"""`kukuri-trending materialize [--at T]`: make the running worker(s) write the snapshot for T now.

A barrier record goes to every partition of the events topic; each worker writes its part once it
has read the barrier on all its partitions, i.e. after everything the broker held when this
command started. The command returns when the complete snapshot is committed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
import uuid

from agents.control import CONTROL_HEADER, MATERIALIZE, MaterializeRequest
from agents.heartbeat import ALIVE_WITHIN_MS, HEARTBEAT_SECONDS
from cli.args import UsageError, add_command, epoch_ms_or_iso, positive_float
from cli.broker_address import NoBrokerError, resolve_bootstrap
from cli.errors import require_database
from config.settings import Settings
from producer.sender import running_producer
from sinks.database import connect_reader
from sinks.storage.workers import live_workers, run_answering
from streams.aggregation import boundary_for

# How long to wait for a worker's heartbeat before saying none is running.
WORKER_WAIT_SECONDS = 2 * HEARTBEAT_SECONDS + 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "materialize", summary="write the snapshot for boundary T now, through the worker",
        description="Make the running worker(s) write the snapshot for boundary T after everything the broker"
        " held when the command started, and wait until it is committed. T must be within the last"
        " stream.late_grace_minutes (10) minutes; `reconcile --at T` recomputes older boundaries.",
        examples=["materialize", "materialize --at 2025-11-10T09:05:00Z --json"],
        exit_codes="0 committed, 1 no worker, broker unreachable or timed out, 2 bad usage",
    )
    parser.add_argument("--at", type=epoch_ms_or_iso, metavar="T",
                        help="boundary as ISO-8601 or epoch ms (default: the latest boundary); aligned down")
    parser.add_argument("--timeout", type=positive_float, default=120.0, help="seconds to wait (120)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    started = int(time.time() * 1000)
    requested = started if args.at is None else args.at
    if requested > started:
        raise UsageError("--at is in the future")
    boundary = boundary_for(requested, settings.interval_ms)
    if boundary < boundary_for(started, settings.interval_ms) - settings.stream.late_grace_minutes * 60_000:
        raise UsageError(
            f"--at is older than the worker's window state reaches ({settings.stream.late_grace_minutes} minutes); "
            "use `kukuri-trending reconcile --at T` to recompute an older boundary"
        )
    require_database(settings)
    try:
        bootstrap = resolve_bootstrap(settings)
        workers = await _live_workers(settings, wait=min(args.timeout, WORKER_WAIT_SECONDS))
    except (NoBrokerError, OSError, sqlite3.Error) as exc:
        return _fail(f"{exc}")
    if not workers:
        return _fail("no running worker (start `kukuri-trending run` or `kukuri-trending worker`)")
    request = MaterializeRequest(uuid.uuid4().hex, boundary, started, started + int(args.timeout * 1000))
    async with running_producer(bootstrap) as producer:
        partitions = sorted(await producer.partitions_for(settings.kafka.events_topic))
        if len(partitions) != settings.kafka.partitions:
            return _fail(
                f"{settings.kafka.events_topic} has {len(partitions)} partitions but kafka.partitions is "
                f"{settings.kafka.partitions}; fix the configuration"
            )
        await asyncio.gather(*[
            await producer.send(settings.kafka.events_topic, value=request.encode(), partition=p,
                                headers=[(CONTROL_HEADER, MATERIALIZE)])
            for p in partitions
        ])
    run_row = await _wait_for_run(settings, request.request_id, boundary, args.timeout)
    if run_row is None:
        return _fail(f"no snapshot for {boundary} was committed within {args.timeout:g} s")
    window_end, topics, finished_at, duration_ms = run_row
    result = {"window_end": window_end, "topics": topics, "finished_at": finished_at, "duration_ms": duration_ms}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"snapshot {window_end} committed: {topics} topics in {duration_ms} ms")
    return 0


async def _live_workers(settings: Settings, *, wait: float) -> int:
    """Workers with a recent heartbeat, waiting up to `wait` seconds for one: a worker that just
    started, or whose database was just restored, announces itself within two heartbeats."""
    deadline = time.monotonic() + wait
    while True:
        if settings.database.path.exists():
            conn = await connect_reader(settings.database.path)
            try:
                found = await live_workers(conn, heartbeat_since=int(time.time() * 1000) - ALIVE_WITHIN_MS)
            finally:
                await conn.close()
            if found:
                return found
        if time.monotonic() >= deadline:
            return 0
        await asyncio.sleep(0.25)


async def _wait_for_run(
    settings: Settings, request_id: str, boundary: int, timeout: float
) -> tuple[int, int, int, int] | None:
    """The run that includes every partition's answer to this request (not just any run of E)."""
    deadline = time.monotonic() + timeout
    conn = await connect_reader(settings.database.path)
    try:
        while time.monotonic() < deadline:
            run = await run_answering(conn, request_id, boundary, settings.kafka.partitions)
            if run is not None:
                return run
            await asyncio.sleep(0.1)
        return None
    finally:
        await conn.close()


def _fail(message: str) -> int:
    print(f"kukuri-trending materialize: {message}", file=sys.stderr)
    return 1
