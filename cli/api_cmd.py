"""`kukuri-trending api`: serve the read API and the dashboard in a process of their own.

Read-only against the database (it neither migrates nor writes), so any number of API processes can
run beside the worker. With `metrics.prometheus_port` set it also serves its request metrics. Runs
until SIGINT or SIGTERM, then closes the feed's clients and the connections before exiting 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from api.server import start_api_server
from cli.args import add_command, int_between
from cli.errors import require_database
from config.settings import Settings
from observability.metrics_server import start_metrics_server


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "api", summary="serve the read API and the live dashboard until Ctrl-C/SIGTERM",
        description="Serve the read API and the dashboard in a process of their own, read-only against the"
        " app database, until SIGINT or SIGTERM. Prints one line with the address it serves.",
        examples=["api", "api --host 0.0.0.0 --port 8081"],
        exit_codes="0 stopped by a signal, 1 cannot listen or no database, 2 bad usage",
    )
    parser.add_argument("--host", help="address to bind (default: api.host, 127.0.0.1)")
    parser.add_argument("--port", type=int_between(0, 65535), help="port (default: api.port; 0 picks a free one)")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    require_database(settings)
    try:
        server = await start_api_server(settings, host=args.host, port=args.port)
    except OSError as exc:
        print(f"kukuri-trending api: cannot listen: {exc}", file=sys.stderr)
        return 1
    metrics = None
    if settings.metrics.prometheus_port:
        metrics = await start_metrics_server(settings.metrics.prometheus_port, settings.metrics.bind_host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    # One line on stdout with the address: with --port 0 it is the only way to learn the port.
    print(f"kukuri-trending api: serving {server.url} (dashboard at {server.url}/)", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await server.stop()
        if metrics is not None:
            await metrics.stop()
    return 0
