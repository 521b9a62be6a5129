"""`kukuri-trending worker`: stream processing only, against an external broker (for scale-out)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from broker.wait import wait_for_broker
from cli.args import add_command
from cli.broker_address import NoBrokerError, resolve_bootstrap, tuned_for_broker
from cli.errors import require_database
from cli.worker_runtime import prepare, run_worker
from config.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "worker", summary="run stream processing and the snapshot sink (scale-out)",
        description="Consume kafka.events_topic as a member of the consumer group kafka.group_id and write"
        " snapshots, until SIGINT or SIGTERM. Waits up to kafka.startup_timeout_seconds for the broker."
        " The app database must exist (`kukuri-trending migrate` creates it).",
        examples=["worker", "--config /etc/kukuri-trending/app.toml worker --log-format json"],
        exit_codes="0 stopped by a signal, 1 failure (broker unreachable, database missing, fatal sink error),"
        " 2 bad usage",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        bootstrap = resolve_bootstrap(settings)
    except NoBrokerError as exc:
        print(f"kukuri-trending worker: error: {exc}", file=sys.stderr)
        return 1
    require_database(settings)
    settings = tuned_for_broker(settings)
    settings.stream.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(wait_for_broker(bootstrap, settings.kafka.startup_timeout_seconds))
    asyncio.run(prepare(settings, bootstrap))
    return run_worker(settings, bootstrap, log_level=args.log_level)
