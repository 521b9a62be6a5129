"""Run a faust worker process until SIGINT/SIGTERM: shared by `worker` and `run`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import faust
import mode

from agents.worker_app import build_worker
from broker.topics import ensure_topics
from config.settings import Settings
from observability.fold_build import fold_build
from observability.logs import log_event
from sinks.migrate import migrate

log = logging.getLogger("kukuri_trending.worker")


async def prepare(settings: Settings, bootstrap: str) -> None:
    """Migrations and topics, before any consumer or producer can auto-create them wrongly."""
    await migrate(settings.database.path)
    await ensure_topics(
        bootstrap,
        {settings.kafka.events_topic: settings.kafka.partitions, settings.kafka.dlq_topic: settings.kafka.partitions},
    )


def run_worker(
    settings: Settings,
    bootstrap: str,
    *,
    broker_incarnation: str | None = None,
    extra_services: Iterable[mode.Service] = (),
    log_level: str = "INFO",
) -> int:
    """Blocks until the worker stops; returns the process exit code (1 after a fatal sink error)."""
    code = 0
    _log_fold_build()
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = build_worker(settings, bootstrap, broker_incarnation=broker_incarnation, extra_services=extra_services)
    runner = faust.Worker(
        worker.app, loglevel=log_level, override_logging=False, redirect_stdouts=False, quiet=True,
    )
    # Faust's start-up spinner writes terminal escape codes even into files and pipes, in the
    # middle of our JSON log lines; our own log lines report progress instead.
    runner.spinner = None
    try:
        runner.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        worker.state.close()
    if worker.fatal_errors:
        log.critical("worker stopped after a fatal error: %s", worker.fatal_errors[0])
        return 1
    return code


def _log_fold_build() -> None:
    build = fold_build()
    stale = {"stale": build.stale, "hint": "these compiled modules are older than their source: reinstall "
             "(make install)"} if build.stale else {}
    log_event(log, "trending_stream.fold_build", level=logging.WARNING if build.stale else logging.INFO,
              compiled=build.compiled, interpreted=build.interpreted, **stale)
