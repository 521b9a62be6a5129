"""Tell people when snapshots stop: a webhook alert per incident, and a table-size warning.

kukuri's operators asked for a Slack message (channel `alerts.slack_channel`, `#alerts-trending`)
after 2 consecutive failed runs and when the last success is more than 10 minutes old, and a warning
when expiry does not keep `topic_metrics` in check. The incident logic is a pure state machine
(`IncidentTracker`), so it is tested without a clock or a network; `WebhookSender` only posts;
`AlertNotifier` joins the two, keeps the state in the app database (`sinks.storage.job_failures`) so
restarts and other workers share it, and reports failures to Sentry (`observability.error_reports`).

One incident, one message: the first condition that trips (failures, a fatal error or staleness)
opens it, later failures stay quiet, and the next committed snapshot closes it with a recovery
message. A fatal error opens an incident at once, whatever the threshold: the worker is about to
exit. Every alert is also logged (`trending_metrics_job.alert`), so alerting works from logs when
no webhook is set.
"""

from __future__ import annotations

import logging
import math
import socket
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

import aiohttp

from config.settings import AlertSettings
from observability import error_reports
from observability.logs import log_event
from sinks.storage.job_failures import FailureStreak, JobFailures
from sinks.storage.table_health import TopicMetricsHealth

log = logging.getLogger(__name__)

AlertKind = Literal["failing", "fatal", "stale", "recovered"]
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
            streak = ("once" if self.consecutive_failures == 1
                      else f"{self.consecutive_failures} times in a row")
            return (
                f":rotating_light: kukuri-trending on {instance}: the trending metrics job failed "
                f"{streak}. Last error: {self.error}. Last success: {since}. "
                f"Triage: {RUNBOOK}#kukuritrendingjobfailing"
            )
        if self.kind == "fatal":
            return (
                f":rotating_light: kukuri-trending on {instance}: the trending metrics job hit an error that "
                f"retrying cannot fix, and the worker is stopping: {self.error}. Last success: {since}. "
                f"Restarts fail the same way until the cause is fixed. Triage: {RUNBOOK}#kukuritrendingjobfailing"
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

    `state` (the failure streak and the open incident) is what the notifier loads from and stores
    in the database around each decision; `last_success_ms` is this process's own knowledge.
    Staleness is measured from the last success, or from `started_at_ms` when none is known, so a
    worker that never manages a snapshot is reported too.
    """

    def __init__(
        self, *, consecutive_failures: int, stale_after_ms: int, started_at_ms: int,
        last_success_ms: int | None = None,
    ) -> None:
        self._threshold = consecutive_failures
        self._stale_after_ms = stale_after_ms
        self._started_at_ms = started_at_ms
        self.last_success_ms = last_success_ms
        self.state = FailureStreak()

    @property
    def consecutive_failures(self) -> int:
        return self.state.consecutive_failures

    @property
    def in_incident(self) -> bool:
        return self.state.incident_started_ms is not None

    def on_failure(self, now_ms: int, error: str, *, fatal: bool = False) -> Alert | None:
        self.state = replace(self.state, consecutive_failures=self.state.consecutive_failures + 1, last_error=error)
        if self.in_incident or (not fatal and self.state.consecutive_failures < self._threshold):
            return None
        kind: AlertKind = "fatal" if fatal else "failing"
        return self._open(Alert(kind, now_ms, self.state.consecutive_failures, self.last_success_ms, error))

    def on_success(self, now_ms: int) -> Alert | None:
        self.last_success_ms = now_ms
        started = self.state.incident_started_ms
        self.state = FailureStreak()
        if started is None:
            return None
        return Alert("recovered", now_ms, 0, now_ms, incident_started_ms=started)

    def check_stale(self, now_ms: int, last_success_ms: int | None = None) -> Alert | None:
        """Call on every tick. `last_success_ms` is the newest success known elsewhere (e.g. the
        latest `trending_runs` row written by another worker); the newer of the two counts."""
        if last_success_ms is not None and (self.last_success_ms is None or last_success_ms > self.last_success_ms):
            self.last_success_ms = last_success_ms
        reference = self._started_at_ms if self.last_success_ms is None else self.last_success_ms
        if self.in_incident or now_ms - reference <= self._stale_after_ms:
            return None
        return self._open(Alert("stale", now_ms, self.state.consecutive_failures, self.last_success_ms))

    def _open(self, alert: Alert) -> Alert:
        self.state = replace(self.state, incident_started_ms=alert.at_ms)
        return alert


def slack_payload(alert: Alert, instance: str, channel: str = "") -> dict[str, Any]:
    """A Slack incoming-webhook body; `text` alone is enough for Slack-compatible receivers.

    `channel` overrides the webhook's default channel where the receiver allows it (legacy Slack
    webhooks and most Slack-compatible receivers do); empty leaves it out.
    """
    text = alert.text(instance)
    payload: dict[str, Any] = {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"alert: {alert.kind} · at {_iso(alert.at_ms)}"}],
            },
        ],
    }
    if channel:
        payload["channel"] = channel
    return payload


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

    With a `ledger`, every decision starts from the stored streak and stores its result, so the
    failure count survives restarts and an incident is announced once across workers. When the
    database cannot be reached the decision is made on this process's own copy instead (logged as
    `alerts.ledger_unavailable`): an alert may then repeat, but it is never lost.

    Each call awaits delivery (bounded by the sender's timeout); wrap it in a task if the caller
    must not wait. With `job_enabled` false (`metrics.enabled = false`) there is no job to go
    stale, so ticks never alert.
    """

    def __init__(
        self, tracker: IncidentTracker, sender: WebhookSender | None, *, instance: str, channel: str = "",
        ledger: JobFailures | None = None, job_enabled: bool = True,
    ) -> None:
        self.tracker = tracker
        self._sender = sender
        self._instance = instance
        self._channel = channel
        self._ledger = ledger
        self._job_enabled = job_enabled
        # Set while this process decided without the database: its own state is then the newer one.
        self._unsaved = False

    @classmethod
    def from_settings(
        cls, settings: AlertSettings, *, now_ms: int, instance: str | None = None,
        last_success_ms: int | None = None, ledger: JobFailures | None = None, worker_id: str | None = None,
        job_enabled: bool = True,
    ) -> AlertNotifier:
        """Also starts Sentry reports when `settings.sentry_dsn` is set. The notifier owns `ledger`."""
        instance = instance or socket.gethostname()
        error_reports.init_error_reports(settings.sentry_dsn, worker_id=worker_id or instance, instance=instance)
        tracker = IncidentTracker(
            consecutive_failures=settings.consecutive_failures,
            stale_after_ms=settings.stale_after_minutes * _MINUTE_MS,
            started_at_ms=now_ms,
            last_success_ms=last_success_ms,
        )
        sender = WebhookSender(settings.webhook_url) if settings.webhook_url else None
        return cls(tracker, sender, instance=instance, channel=settings.slack_channel, ledger=ledger,
                   job_enabled=job_enabled)

    async def run_failed(
        self, now_ms: int, exc: BaseException, *, boundary: int | None = None, fatal: bool = False
    ) -> Alert | None:
        """Report one failed run (after its retries). `fatal`: the worker stops next, so the alert
        and the Sentry report are delivered before this returns."""
        error_reports.report_failure(exc, boundary=boundary, fatal=fatal)
        error = error_reports.describe_error(exc)
        alert = await self._dispatch(await self._decide(lambda: self.tracker.on_failure(now_ms, error, fatal=fatal)))
        if fatal:
            await error_reports.flush()
        return alert

    async def run_succeeded(self, now_ms: int) -> Alert | None:
        return await self._dispatch(await self._decide(lambda: self.tracker.on_success(now_ms)))

    async def tick(self, now_ms: int, last_success_ms: int | None = None) -> Alert | None:
        if not self._job_enabled:
            return None
        return await self._dispatch(await self._decide(lambda: self.tracker.check_stale(now_ms, last_success_ms)))

    async def close(self) -> None:
        if self._sender is not None:
            await self._sender.close()
        if self._ledger is not None:
            await self._ledger.close()

    async def _decide(self, step: Callable[[], Alert | None]) -> Alert | None:
        ledger = self._ledger
        if ledger is None:
            return step()
        own = self.tracker.state

        def decide(stored: FailureStreak) -> tuple[FailureStreak, Alert | None]:
            self.tracker.state = own if self._unsaved else stored
            alert = step()
            return self.tracker.state, alert

        try:
            alert = await ledger.update(decide)
        except sqlite3.Error as exc:
            log_event(log, "alerts.ledger_unavailable", logging.WARNING, error=error_reports.describe_error(exc))
            self.tracker.state = own
            self._unsaved = True
            return step()
        self._unsaved = False
        return alert

    async def _dispatch(self, alert: Alert | None) -> Alert | None:
        if alert is None:
            return None
        level = logging.INFO if alert.kind == "recovered" else logging.ERROR
        log_event(
            log, "trending_metrics_job.alert", level, alert=alert.kind, text=alert.text(self._instance),
            consecutive_failures=alert.consecutive_failures, last_success_ms=alert.last_success_ms,
        )
        if self._sender is not None:
            await self._sender.send(slack_payload(alert, self._instance, self._channel))
        return alert


def row_limit(health: TopicMetricsHealth, margin: float) -> int:
    """Most rows `topic_metrics` may hold before it warns: what the snapshots inside the TTL
    explain, plus `margin` (`metrics.row_count_margin`, a fraction)."""
    return math.ceil(health.expected_rows * (1 + margin))


def check_table_size(health: TopicMetricsHealth, *, margin: float, ttl_hours: int) -> bool:
    """Warn when expiry is failing, not when traffic is high; the sink calls this after each run.

    Two signs: rows older than the TTL survived the run's expiry, or the table holds more rows
    than the snapshots inside the TTL explain (their count times the most topics one of them
    wrote) by more than `margin`. Returns whether it warned.
    """
    limit = row_limit(health, margin)
    reasons = []
    if health.expired_rows:
        reasons.append("rows older than the TTL survived expiry")
    if health.rows > limit:
        reasons.append("more rows than the snapshots inside the TTL explain")
    if not reasons:
        return False
    log_event(
        log, "trending_metrics_job.table_size_warning", logging.WARNING, reason="; ".join(reasons),
        rows=health.rows, expired_rows=health.expired_rows, expected_rows=health.expected_rows, row_limit=limit,
        snapshots=health.snapshots, peak_topics=health.peak_topics, ttl_hours=ttl_hours,
        hint="check that expiry runs after each snapshot (expired_records) and what else writes topic_metrics",
    )
    return True
