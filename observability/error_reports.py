"""Failures and crashes to Sentry, when `alerts.sentry_dsn` (`KUKURI_SENTRY_DSN`) is set.

Reported: every failed snapshot run (after its retries), fatal errors (level `fatal`, flushed
before the worker stops), and uncaught exceptions (sentry-sdk's excepthook integration, and its
asyncio integration when started inside the event loop). Every event is tagged `worker_id` and
`error_class` (`transient` or `fatal`: the verdict of the failure log line), and a job failure
also `boundary` (the snapshot's window end, epoch ms). Log lines travel as breadcrumbs, never as
events of their own, so one failure is one event. Without a DSN sentry-sdk is never initialised.

sentry-sdk is process-wide, so this module is too: the first `init_error_reports` starts it, later
calls only update the worker id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import sentry_sdk
from sentry_sdk.integrations import Integration
from sentry_sdk.integrations.asyncio import AsyncioIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from sinks.failures import classify

FLUSH_SECONDS: Final = 2.0
_MAX_ERROR_CHARS: Final = 500
_tags: dict[str, str] = {}


def describe_error(exc: BaseException) -> str:
    """`module.Type: message`, one line, bounded: the `error` of failure log lines and alerts."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    text = " ".join(str(exc).split())
    line = f"{name}: {text}" if text else name
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


def _tag_event(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    tags = event.setdefault("tags", {})
    for key, value in _tags.items():
        tags.setdefault(key, value)
    exc_info = hint.get("exc_info")
    if exc_info is not None and exc_info[1] is not None:
        tags.setdefault("error_class", classify(exc_info[1]))
    return event


def init_error_reports(dsn: str, *, worker_id: str, instance: str) -> bool:
    """Start reporting to `dsn` (no-op for an empty one); returns whether reports are on."""
    if not dsn:
        return False
    _tags["worker_id"] = worker_id
    if sentry_sdk.get_client().is_active():
        return True
    integrations: list[Integration] = [LoggingIntegration(level=logging.INFO, event_level=None)]
    try:
        asyncio.get_running_loop()
        integrations.append(AsyncioIntegration())
    except RuntimeError:
        pass  # started outside a loop: the excepthook still reports uncaught exceptions
    sentry_sdk.init(
        dsn=dsn,
        server_name=instance,
        integrations=integrations,
        auto_enabling_integrations=False,
        # Frames hold settings objects (the webhook URL is a secret) and paths: keep them out of reports.
        include_local_variables=False,
        before_send=_tag_event,  # type: ignore[arg-type]
    )
    return True


def report_failure(exc: BaseException, *, boundary: int | None, fatal: bool) -> None:
    """Send one failed run (no-op when reports are off)."""
    if not sentry_sdk.get_client().is_active():
        return
    tags: dict[str, str] = {"error_class": classify(exc)}
    if boundary is not None:
        tags["boundary"] = str(boundary)
    sentry_sdk.capture_exception(exc, tags=tags, level="fatal" if fatal else "error")


def report_crash(exc: BaseException) -> None:
    """A command that ends on an unexpected error: report it as fatal and wait until it is sent."""
    if sentry_sdk.get_client().is_active():
        report_failure(exc, boundary=None, fatal=True)
        sentry_sdk.flush(FLUSH_SECONDS)


async def flush() -> None:
    """Wait (at most FLUSH_SECONDS, off the event loop) until queued reports are sent."""
    if sentry_sdk.get_client().is_active():
        await asyncio.to_thread(sentry_sdk.flush, FLUSH_SECONDS)
