"""`kukuri-trending worker`: stream processing only, against an external broker (for scale-out)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cli.broker_address import NoBrokerError, resolve_bootstrap
from cli.worker_runtime import prepare, run_worker
from config.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("worker", help="run stream processing and the snapshot sink (scale-out)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        bootstrap = resolve_bootstrap(settings)
    except NoBrokerError as exc:
        print(f"kukuri-trending worker: {exc}", file=sys.stderr)
        return 1
    asyncio.run(prepare(settings, bootstrap))
    return run_worker(settings, bootstrap, log_level=args.log_level)
