"""`kukuri-trending run`: everything on one machine.

Starts the embedded Tansu broker (unless one is configured), creates the topics, optionally seeds
24 h of back-dated synthetic traffic (so the first snapshot already shows a trending list), then
runs the worker, the snapshot sink, the read API and live demo traffic until Ctrl-C or SIGTERM, and
stops the broker on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
import uuid

import mode

from agents.side_services import ApiEndpoint, DemoTraffic
from broker.embedded import BrokerError, EmbeddedBroker
from broker.runtime import remove_runtime, runtime_path, write_runtime
from cli.args import add_command, int_between
from cli.broker_address import tuned_for_broker
from cli.errors import check_database_location
from cli.worker_runtime import prepare, run_worker
from config.settings import Settings
from observability.logs import log_event
from producer.sender import SyntheticTraffic, running_producer
from producer.synthetic import TrafficGenerator
from reconcile.gaps import fill_gaps

log = logging.getLogger("kukuri_trending.run")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "run", summary="broker (embedded by default), worker, sink and API on this machine",
        description="Everything on one machine: the embedded broker unless kafka.broker is set, the"
        " worker, the snapshot sink and the read API, until Ctrl-C or SIGTERM. Creates the app"
        " database if it does not exist.",
        examples=["run", "run --demo-history 20000 --demo-rate 40", "--config my.toml run --no-api"],
        exit_codes="0 stopped by a signal, 1 failure, 2 bad usage",
    )
    parser.add_argument("--demo-rate", type=int_between(0), default=0, metavar="N",
                        help="also send N synthetic events per second, mirrored into the app database (0: off)")
    parser.add_argument("--demo-topics", type=int_between(1), default=40, metavar="M", help="synthetic topics (40)")
    parser.add_argument("--demo-history", type=int_between(0), default=0, metavar="K",
                        help="first send K back-dated synthetic facts over the last 24 h (0: none)")
    parser.add_argument("--no-api", action="store_true", help="do not serve the read API")
    parser.set_defaults(handler=run)


def _stop_requested(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, settings: Settings) -> int:
    # Until the faust worker installs its own handlers, SIGTERM must still unwind through the
    # `finally` below, so the embedded broker never outlives us.
    signal.signal(signal.SIGTERM, _stop_requested)
    broker: EmbeddedBroker | None = None
    incarnation: str | None = None
    runtime = runtime_path(settings.database.path)
    check_database_location(settings)
    try:
        if settings.kafka.embedded:
            settings = tuned_for_broker(settings)
            settings.stream.data_dir.mkdir(parents=True, exist_ok=True)
            broker = EmbeddedBroker(log_path=settings.stream.data_dir / "tansu.log")
            broker.start_sync()
            incarnation = uuid.uuid4().hex
            bootstrap = broker.bootstrap
            api_url = None if args.no_api else f"http://{settings.api.host}:{settings.api.port}"
            write_runtime(runtime, broker_url=broker.url, pid=os.getpid(), api_url=api_url)
            log_event(log, "trending_broker.started", url=broker.url, pid=broker.pid)
        else:
            bootstrap = settings.kafka.bootstrap_servers
        asyncio.run(_seed(settings, bootstrap, args))
        extra: list[mode.Service] = []
        if not args.no_api:
            extra.append(ApiEndpoint(settings))
        if args.demo_rate:
            extra.append(DemoTraffic(settings, bootstrap, args.demo_rate, args.demo_topics, seed=int(time.time())))
        return run_worker(settings, bootstrap, broker_incarnation=incarnation, extra_services=extra,
                          log_level=args.log_level)
    except BrokerError as exc:
        print(f"kukuri-trending run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if broker is not None:
            broker.stop_sync()
            remove_runtime(runtime)
            log_event(log, "trending_broker.stopped")


async def _seed(settings: Settings, bootstrap: str, args: argparse.Namespace) -> None:
    await prepare(settings, bootstrap)
    if not args.demo_history:
        return
    async with running_producer(bootstrap) as producer:
        traffic = SyntheticTraffic(producer, settings.kafka.events_topic, TrafficGenerator(args.demo_topics, seed=7),
                                   app_db=settings.database.path, seed=7)
        await traffic.prepare_app_db()
        await traffic.history(args.demo_history, 24, int(time.time() * 1000))
        log_event(log, "trending_demo.history_sent", facts=traffic.stats.facts, events=traffic.stats.sent)
        # Snapshots for the past boundaries too, from the app database, so the dashboard's
        # sparklines and score changes have a history from the first minute.
        gaps = await fill_gaps(settings)
        log_event(log, "trending_demo.history_snapshots", boundaries=len(gaps.gaps))
