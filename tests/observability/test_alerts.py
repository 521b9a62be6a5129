"""Incidents open once, close on recovery, and reach a real webhook receiver."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.settings import AlertSettings
from observability.alerts import (
    Alert,
    AlertNotifier,
    IncidentTracker,
    WebhookSender,
    check_table_size,
    row_limit,
    slack_payload,
)
from observability.logs import FIELDS_ATTR
from sinks.storage.table_health import TopicMetricsHealth
from tests.fixtures.webhook import Receiver

MIN = 60_000
T0 = 1_731_229_200_000
LOCKED = sqlite3.OperationalError("database is locked")


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[tuple[logging.LogRecord, dict[str, Any]]]:
    """Records of `event` with the structured fields `log_event` attached."""
    return [(r, getattr(r, FIELDS_ATTR)) for r in caplog.records if getattr(r, "event", None) == event]


def tracker(**overrides: int) -> IncidentTracker:
    options = {"consecutive_failures": 2, "stale_after_ms": 10 * MIN, "started_at_ms": T0} | overrides
    return IncidentTracker(**options)


# --- the state machine ------------------------------------------------------------------------


def test_second_consecutive_failure_opens_an_incident_once() -> None:
    t = tracker()
    assert t.on_failure(T0 + 5 * MIN, "locked") is None
    alert = t.on_failure(T0 + 10 * MIN, "sqlite3.OperationalError: database is locked")
    assert alert is not None and alert.kind == "failing"
    assert alert.consecutive_failures == 2
    assert alert.error == "sqlite3.OperationalError: database is locked"
    assert t.on_failure(T0 + 15 * MIN, "locked") is None
    assert t.on_failure(T0 + 20 * MIN, "locked") is None
    assert t.in_incident


def test_a_success_between_failures_resets_the_count() -> None:
    t = tracker()
    assert t.on_failure(T0 + 1, "x") is None
    assert t.on_success(T0 + 2) is None
    assert t.on_failure(T0 + 3, "x") is None
    assert t.on_failure(T0 + 4, "x") is not None


def test_recovery_closes_the_incident_with_one_message() -> None:
    t = tracker()
    t.on_failure(T0 + 5 * MIN, "x")
    t.on_failure(T0 + 10 * MIN, "x")
    recovered = t.on_success(T0 + 25 * MIN)
    assert recovered is not None and recovered.kind == "recovered"
    assert recovered.incident_started_ms == T0 + 10 * MIN
    assert "the incident lasted 15 min" in recovered.text("worker-1")
    assert t.on_success(T0 + 30 * MIN) is None
    assert not t.in_incident


def test_stale_after_ten_minutes_without_success() -> None:
    t = tracker(last_success_ms=T0)
    assert t.check_stale(T0 + 10 * MIN) is None  # exactly the threshold is still fresh
    alert = t.check_stale(T0 + 10 * MIN + 1)
    assert alert is not None and alert.kind == "stale"
    assert alert.last_success_ms == T0
    assert t.check_stale(T0 + 20 * MIN) is None
    assert t.on_success(T0 + 21 * MIN) is not None


def test_a_worker_that_never_succeeds_goes_stale_from_its_start() -> None:
    t = tracker()
    assert t.check_stale(T0 + 9 * MIN) is None
    alert = t.check_stale(T0 + 11 * MIN)
    assert alert is not None and alert.last_success_ms is None
    assert "never" in alert.text("w")


def test_success_seen_elsewhere_keeps_it_fresh() -> None:
    # Another worker completed and recorded the snapshot; this one only reads trending_runs.
    t = tracker(last_success_ms=T0)
    assert t.check_stale(T0 + 15 * MIN, last_success_ms=T0 + 10 * MIN) is None
    assert t.check_stale(T0 + 15 * MIN, last_success_ms=T0) is None  # older news changes nothing
    assert t.check_stale(T0 + 21 * MIN) is not None


def test_staleness_and_failures_are_one_incident() -> None:
    t = tracker(last_success_ms=T0)
    assert t.check_stale(T0 + 11 * MIN) is not None
    assert t.on_failure(T0 + 12 * MIN, "x") is None
    assert t.on_failure(T0 + 13 * MIN, "x") is None
    assert t.on_success(T0 + 14 * MIN) is not None
    # A new incident can open after recovery.
    t.on_failure(T0 + 15 * MIN, "x")
    assert t.on_failure(T0 + 16 * MIN, "x") is not None


def test_threshold_of_one_alerts_on_the_first_failure() -> None:
    assert tracker(consecutive_failures=1).on_failure(T0, "x") is not None


def test_a_fatal_error_alerts_at_once_whatever_the_threshold() -> None:
    t = tracker(consecutive_failures=5)
    alert = t.on_failure(T0, "sqlite3.OperationalError: no such table: trending_runs", fatal=True)
    assert alert is not None and alert.kind == "fatal" and alert.consecutive_failures == 1
    assert "the worker is stopping" in alert.text("w") and "no such table" in alert.text("w")
    # A restarted worker failing the same way (state carried over) stays quiet: same incident.
    assert t.on_failure(T0 + 1, "again", fatal=True) is None
    recovered = t.on_success(T0 + 5 * MIN)
    assert recovered is not None and recovered.kind == "recovered"


def test_a_fatal_error_inside_an_open_incident_adds_no_message() -> None:
    t = tracker(last_success_ms=T0)
    assert t.check_stale(T0 + 11 * MIN) is not None
    assert t.on_failure(T0 + 12 * MIN, "x", fatal=True) is None


def test_slack_payload_has_text_and_blocks() -> None:
    alert = tracker().check_stale(T0 + 11 * MIN)
    assert alert is not None
    payload = slack_payload(alert, "worker-1")
    assert payload["text"].startswith(":warning: kukuri-trending on worker-1")
    assert "docs/runbook.md#kukuritrendingsnapshotstale" in payload["text"]
    assert payload["blocks"][0]["text"]["text"] == payload["text"]
    assert "channel" not in payload  # the webhook's own channel


def test_slack_payload_carries_the_configured_channel() -> None:
    alert = tracker().check_stale(T0 + 11 * MIN)
    assert alert is not None
    assert slack_payload(alert, "w", "#alerts-trending")["channel"] == "#alerts-trending"
    assert AlertSettings().slack_channel == "#alerts-trending"


async def test_a_disabled_job_never_goes_stale(caplog: pytest.LogCaptureFixture) -> None:
    notifier = AlertNotifier.from_settings(AlertSettings(), now_ms=T0, instance="w", job_enabled=False)
    assert await notifier.tick(T0 + 24 * 60 * MIN) is None
    assert await notifier.tick(T0 + 24 * 60 * MIN, last_success_ms=T0) is None
    await notifier.close()
    assert not logged(caplog, "trending_metrics_job.alert")


# --- delivery ---------------------------------------------------------------------------------


integration = pytest.mark.integration


@integration
async def test_notifier_sends_one_alert_per_incident_and_a_recovery(receiver: Receiver) -> None:
    settings = AlertSettings(webhook_url=receiver.url, consecutive_failures=2, stale_after_minutes=10)
    notifier = AlertNotifier.from_settings(settings, now_ms=T0, instance="worker-1", last_success_ms=T0)
    try:
        assert await notifier.run_failed(T0 + 5 * MIN, LOCKED) is None
        assert await notifier.run_failed(T0 + 10 * MIN, LOCKED)
        assert await notifier.tick(T0 + 12 * MIN) is None
        assert await notifier.run_failed(T0 + 15 * MIN, LOCKED) is None
        assert await notifier.run_succeeded(T0 + 20 * MIN)
    finally:
        await notifier.close()
    assert [p["text"].split()[0] for p in receiver.payloads] == [":rotating_light:", ":white_check_mark:"]
    assert "failed 2 times in a row" in receiver.payloads[0]["text"]
    assert "database is locked" in receiver.payloads[0]["text"]
    assert "worker-1" in receiver.payloads[1]["text"]
    assert {p["channel"] for p in receiver.payloads} == {"#alerts-trending"}


@integration
async def test_stale_alert_is_delivered(receiver: Receiver) -> None:
    settings = AlertSettings(webhook_url=receiver.url)
    notifier = AlertNotifier.from_settings(settings, now_ms=T0, instance="w")
    try:
        assert await notifier.tick(T0 + 11 * MIN)
    finally:
        await notifier.close()
    [payload] = receiver.payloads
    assert "no snapshot committed since never" in payload["text"]


@integration
async def test_rejected_delivery_is_logged_not_raised(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.status = 400
    sender = WebhookSender(receiver.url)
    try:
        assert await sender.send({"text": "hello"}) is False
    finally:
        await sender.close()
    [(record, fields)] = logged(caplog, "alerts.webhook_failed")
    assert record.levelno == logging.WARNING
    assert fields["status"] == 400


@integration
async def test_slow_receiver_times_out(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.delay = 0.8
    sender = WebhookSender(receiver.url, timeout_seconds=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        assert await sender.send({"text": "hello"}) is False
    finally:
        await sender.close()
    assert loop.time() - started < 0.6
    assert logged(caplog, "alerts.webhook_failed")


@integration
async def test_unreachable_receiver_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    sender = WebhookSender("http://127.0.0.1:9/hooks", timeout_seconds=1.0)
    try:
        assert await sender.send({"text": "hello"}) is False
    finally:
        await sender.close()
    [(_, fields)] = logged(caplog, "alerts.webhook_failed")
    assert "ClientConnectorError" in fields["error"]


async def test_without_a_webhook_alerts_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    notifier = AlertNotifier.from_settings(AlertSettings(webhook_url=""), now_ms=T0, instance="w")
    caplog.set_level(logging.INFO)
    await notifier.run_failed(T0 + 1, RuntimeError("boom"))
    alert = await notifier.run_failed(T0 + 2, RuntimeError("boom"))
    await notifier.close()
    assert alert is not None
    [(record, fields)] = logged(caplog, "trending_metrics_job.alert")
    assert record.levelno == logging.ERROR
    assert fields["alert"] == "failing"
    assert "boom" in fields["text"]


# --- table size -------------------------------------------------------------------------------

# kukuri's scale: 5,000 active topics, a snapshot every 5 minutes, 48 h TTL.
TOPICS = 5_000
SNAPSHOTS_IN_TTL = 48 * 12 + 1  # both ends of the TTL are snapshot boundaries: 577


def health(rows: int, *, expired: int = 0, snapshots: int = SNAPSHOTS_IN_TTL, peak: int = TOPICS) -> TopicMetricsHealth:
    return TopicMetricsHealth(rows=rows, expired_rows=expired, snapshots=snapshots, peak_topics=peak)


def test_a_steady_state_at_kukuris_scale_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    steady = health(TOPICS * SNAPSHOTS_IN_TTL)
    assert steady.rows == 2_885_000  # the old fixed 100,000-row threshold warned at 175 topics
    assert check_table_size(steady, margin=0.25, ttl_hours=48) is False
    assert not logged(caplog, "trending_metrics_job.table_size_warning")


@given(st.lists(st.integers(min_value=0, max_value=TOPICS), min_size=1, max_size=SNAPSHOTS_IN_TTL))
def test_working_expiry_never_warns_however_traffic_varies(topics_per_snapshot: list[int]) -> None:
    # With expiry working, the table holds exactly the snapshots inside the TTL.
    state = health(sum(topics_per_snapshot), snapshots=len(topics_per_snapshot), peak=max(topics_per_snapshot))
    assert check_table_size(state, margin=0.0, ttl_hours=48) is False


def test_rows_older_than_the_ttl_warn_at_once(caplog: pytest.LogCaptureFixture) -> None:
    # Expiry broken for one run: the table is still small, but a snapshot past the TTL survived.
    assert check_table_size(health(TOPICS * (SNAPSHOTS_IN_TTL + 1), expired=TOPICS), margin=0.25, ttl_hours=48)
    [(record, fields)] = logged(caplog, "trending_metrics_job.table_size_warning")
    assert record.levelno == logging.WARNING
    assert fields["reason"] == "rows older than the TTL survived expiry"
    assert fields["expired_rows"] == TOPICS and fields["expected_rows"] == TOPICS * SNAPSHOTS_IN_TTL


def test_more_rows_than_the_ttl_explains_warn_beyond_the_margin(caplog: pytest.LogCaptureFixture) -> None:
    expected = TOPICS * SNAPSHOTS_IN_TTL
    limit = row_limit(health(0), 0.25)
    assert limit == 3_606_250
    assert check_table_size(health(limit), margin=0.25, ttl_hours=48) is False
    assert check_table_size(health(limit + 1), margin=0.25, ttl_hours=48) is True
    [(_, fields)] = logged(caplog, "trending_metrics_job.table_size_warning")
    assert fields["reason"] == "more rows than the snapshots inside the TTL explain"
    assert (fields["rows"], fields["expected_rows"], fields["row_limit"]) == (limit + 1, expected, limit)


def test_a_single_failure_reads_once_not_one_times() -> None:
    alert = Alert(kind="failing", at_ms=T0, consecutive_failures=1, last_success_ms=None, error="boom")
    assert "failed once." in alert.text("w") and "1 times" not in alert.text("w")
