"""Tell people when snapshots stop: a webhook alert per incident, and a table-size warning.

kukuri's operators asked for a Slack message after 2 consecutive failed runs and when the last
success is more than 10 minutes old, and a warning when `topic_metrics` grows past a threshold
(expiry not keeping up). The incident logic is a pure state machine (`IncidentTracker`), so it is
tested without a clock or a network; `WebhookSender` only posts; `AlertNotifier` joins the two.

One incident, one message: the first condition that trips (failures or staleness) opens it, later
failures stay quiet, and the next successful run closes it with a recovery message. Every alert is
also logged (`trending_metrics_job.alert`), so alerting works from logs when no webhook is set.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import aiohttp

from config.settings import AlertSettings
from observability.logs import log_event

log = logging.getLogger(__name__)

AlertKind = Literal["failing", "stale", "recovered"]
RUNBOOK: Final = "docs/runbook.md"
_MINUTE_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class Alert:
    """One message to send: what happened, when, and what the job looked like then."""

    kind: AlertKind
    at_ms: int
    consecutive_failures: int
    last_success_ms: int | None
    error: str | None = None
    incident_started_ms: int | None = None

    def text(self, instance: str) -> str:
        since = _since(self.last_success_ms, self.at_ms)
        if self.kind == "failing":
            return (
                f":rotating_light: kukuri-trending on {instance}: the trending metrics job failed "
                f"{self.consecutive_failures} times in a row. Last error: {self.error}. Last success: {since}. "
                f"Triage: {RUNBOOK}#kukuritrendingjobfailing"
            )
        if self.kind == "stale":
            return (
                f":warning: kukuri-trending on {instance}: no snapshot committed since {since}. "
                f"The read API is serving stale or fallback numbers. Triage: {RUNBOOK}#kukuritrendingsnapshotstale"
            )
        duration = (self.at_ms - (self.incident_started_ms or self.at_ms)) // _MINUTE_MS
        return (
            f":white_check_mark: kukuri-trending on {instance}: the trending metrics job succeeded again "
            f"at {_iso(self.at_ms)}; the incident lasted {duration} min."
        )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _since(last_success_ms: int | None, now_ms: int) -> str:
    if last_success_ms is None:
        return "never (since this worker started)"
    return f"{_iso(last_success_ms)} ({(now_ms - last_success_ms) // _MINUTE_MS} min ago)"


class IncidentTracker:
    """Decides which alert, if any, an outcome or a clock tick produces. No I/O.

    Staleness is measured from the last success, or from `started_at_ms` when this process has
    not seen one, so a worker that never manages a snapshot is reported too.
    """

    def __init__(
        self, *, consecutive_failures: int, stale_after_ms: int, started_at_ms: int,
        last_success_ms: int | None = None,
    ) -> None:
        self._threshold = consecutive_failures
        self._stale_after_ms = stale_after_ms
        self._started_at_ms = started_at_ms
        self.last_success_ms = last_success_ms
        self.consecutive_failures = 0
        self.incident_started_ms: int | None = None

    @property
    def in_incident(self) -> bool:
        return self.incident_started_ms is not None

    def on_failure(self, now_ms: int, error: str) -> Alert | None:
        self.consecutive_failures += 1
        if self.in_incident or self.consecutive_failures < self._threshold:
            return None
        return self._open(Alert("failing", now_ms, self.consecutive_failures, self.last_success_ms, error))

    def on_success(self, now_ms: int) -> Alert | None:
        self.last_success_ms = now_ms
        self.consecutive_failures = 0
        started = self.incident_started_ms
        if started is None:
            return None
        self.incident_started_ms = None
        return Alert("recovered", now_ms, 0, now_ms, incident_started_ms=started)

    def check_stale(self, now_ms: int, last_success_ms: int | None = None) -> Alert | None:
        """Call on every tick. `last_success_ms` is the newest success known elsewhere (e.g. the
        latest `trending_runs` row written by another worker); the newer of the two counts."""
        if last_success_ms is not None and (self.last_success_ms is None or last_success_ms > self.last_success_ms):
            self.last_success_ms = last_success_ms
        reference = self._started_at_ms if self.last_success_ms is None else self.last_success_ms
        if self.in_incident or now_ms - reference <= self._stale_after_ms:
            return None
        return self._open(Alert("stale", now_ms, self.consecutive_failures, self.last_success_ms))

    def _open(self, alert: Alert) -> Alert:
        self.incident_started_ms = alert.at_ms
        return alert


def slack_payload(alert: Alert, instance: str) -> dict[str, Any]:
    """A Slack incoming-webhook body; `text` alone is enough for Slack-compatible receivers."""
    text = alert.text(instance)
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"alert: {alert.kind} · at {_iso(alert.at_ms)}"}],
            },
        ],
    }


class WebhookSender:
    """POSTs JSON to one URL. Never raises for delivery problems: an alerting failure must not turn
    into a job failure. It logs them instead (`alerts.webhook_failed`)."""

    def __init__(self, url: str, *, timeout_seconds: float = 5.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, payload: Mapping[str, Any]) -> bool:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.url, json=payload) as response:
                if response.status < 300:
                    return True
                body = (await response.text())[:200]
                log_event(log, "alerts.webhook_failed", logging.WARNING, status=response.status, body=body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log_event(log, "alerts.webhook_failed", logging.WARNING, error=f"{type(exc).__name__}: {exc}")
        return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class AlertNotifier:
    """The sink's single entry point: report each run's outcome and tick the clock.

    Each call awaits delivery (bounded by the sender's timeout); wrap it in a task if the caller
    must not wait.
    """

    def __init__(self, tracker: IncidentTracker, sender: WebhookSender | None, *, instance: str) -> None:
        self.tracker = tracker
        self._sender = sender
        self._instance = instance

    @classmethod
    def from_settings(
        cls, settings: AlertSettings, *, now_ms: int, instance: str | None = None,
        last_success_ms: int | None = None,
    ) -> AlertNotifier:
        tracker = IncidentTracker(
            consecutive_failures=settings.consecutive_failures,
            stale_after_ms=settings.stale_after_minutes * _MINUTE_MS,
            started_at_ms=now_ms,
            last_success_ms=last_success_ms,
        )
        sender = WebhookSender(settings.webhook_url) if settings.webhook_url else None
        return cls(tracker, sender, instance=instance or socket.gethostname())

    async def run_failed(self, now_ms: int, error: str) -> Alert | None:
        return await self._dispatch(self.tracker.on_failure(now_ms, error))

    async def run_succeeded(self, now_ms: int) -> Alert | None:
        return await self._dispatch(self.tracker.on_success(now_ms))

    async def tick(self, now_ms: int, last_success_ms: int | None = None) -> Alert | None:
        return await self._dispatch(self.tracker.check_stale(now_ms, last_success_ms))

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.close()

    async def _dispatch(self, alert: Alert | None) -> Alert | None:
        if alert is None:
            return None
        level = logging.INFO if alert.kind == "recovered" else logging.ERROR
        log_event(
            log, "trending_metrics_job.alert", level, alert=alert.kind, text=alert.text(self._instance),
            consecutive_failures=alert.consecutive_failures, last_success_ms=alert.last_success_ms,
        )
        if self._sender is not None:
            await self._sender.send(slack_payload(alert, self._instance))
        return alert


def check_table_size(rows: int, threshold: int, *, ttl_hours: int) -> bool:
    """Warn when `topic_metrics` holds more than `threshold` rows; the sink calls this after each run.

    A table past the threshold usually means expiry is not keeping up or `ttl_hours` is too long
    for the number of topics. Returns whether it warned.
    """
    if rows <= threshold:
        return False
    log_event(
        log, "trending_metrics_job.table_size_warning", logging.WARNING, rows=rows, threshold=threshold,
        ttl_hours=ttl_hours, hint="check metrics.ttl_hours and that expiry runs after each snapshot",
    )
    return True
