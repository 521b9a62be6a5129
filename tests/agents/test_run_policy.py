"""Retry and skip decisions, with the clock and the dice in the test's hands."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator

import pytest

from agents.run_policy import FAILED_EVENT, RunPolicy, describe_error, failure_fields
from config.settings import BackoffSettings
from observability.logs import log_event, setup_logging
from sinks.failures import classify


def dice(*values: float) -> Callable[[], float]:
    rolls: Iterator[float] = iter(values)
    return lambda: next(rolls)


def policy(*rolls: float, **options: float) -> RunPolicy:
    return RunPolicy(random=dice(*rolls) if rolls else (lambda: 0.5), **options)  # type: ignore[arg-type]


# --- retries within a run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.25, 0.5), (2, 0.5, 1.0), (3, 1.0, 2.0), (4, 2.0, 4.0), (7, 15.0, 30.0), (8, 15.0, 30.0), (50, 15.0, 30.0)],
)
def test_delay_doubles_up_to_the_cap_with_equal_jitter(attempt: int, low: float, high: float) -> None:
    assert policy(0.0).next_retry_delay(attempt, now=0, deadline=1e9) == low
    assert policy(1.0).next_retry_delay(attempt, now=0, deadline=1e9) == high
    assert low < policy(0.5).next_retry_delay(attempt, now=0, deadline=1e9) < high  # type: ignore[operator]


def test_huge_attempt_numbers_stay_capped() -> None:
    assert policy(1.0).next_retry_delay(10_000, now=0, deadline=1e9) == 30.0


def test_no_retry_that_would_start_after_the_deadline() -> None:
    p = policy(1.0, 1.0, 1.0)
    assert p.next_retry_delay(3, now=100.0, deadline=102.0) == 2.0  # starts exactly at the deadline
    assert p.next_retry_delay(3, now=100.5, deadline=102.0) is None
    assert p.next_retry_delay(1, now=102.0, deadline=102.0) is None


def test_attempts_are_one_based() -> None:
    with pytest.raises(ValueError, match="1-based"):
        policy().next_retry_delay(0, now=0, deadline=10)


def test_settings_carry_over() -> None:
    backoff = BackoffSettings(failures_before_skip=4, skip_minutes=30, initial_retry_seconds=2.0, max_retry_seconds=5.0)
    p = RunPolicy.from_settings(backoff, random=lambda: 1.0)
    assert (p.failures_before_skip, p.skip_seconds) == (4, 1800.0)
    assert p.next_retry_delay(1, now=0, deadline=100) == 2.0
    assert p.next_retry_delay(3, now=0, deadline=100) == 5.0


def test_defaults_are_kukuris() -> None:
    p = RunPolicy.from_settings(BackoffSettings())
    assert p.failures_before_skip == 3
    assert (p.skip_seconds, p.initial_retry_seconds, p.max_retry_seconds) == (900.0, 0.5, 30.0)


# --- failed runs and the skip -----------------------------------------------------------------


def test_three_failed_runs_skip_fifteen_minutes() -> None:
    p = policy()
    assert p.on_run_failed(now=0) is None
    assert p.on_run_failed(now=300) is None
    assert p.should_run(600)
    assert p.on_run_failed(now=600) == 1500
    assert not p.should_run(900)
    assert not p.should_run(1499.9)
    assert p.should_run(1500)


def test_a_failed_probe_after_the_skip_skips_again_at_once() -> None:
    p = policy()
    for now in (0, 300, 600):
        p.on_run_failed(now)
    assert p.on_run_failed(now=1500) == 2400
    assert p.consecutive_failures == 4


def test_success_clears_the_streak_and_the_skip() -> None:
    p = policy()
    for now in (0, 300, 600):
        p.on_run_failed(now)
    p.on_run_succeeded()
    assert p.should_run(601)
    assert p.consecutive_failures == 0
    assert p.on_run_failed(now=900) is None


def test_zero_skip_minutes_never_skips() -> None:
    p = RunPolicy.from_settings(BackoffSettings(skip_minutes=0))
    for now in range(0, 3000, 300):
        assert p.on_run_failed(now) is None
        assert p.should_run(now + 1)


def test_seconds_until_next_attempt() -> None:
    p = policy()
    assert p.seconds_until_next_attempt(now=610, next_run_at=900) == 290
    for now in (0, 300, 600):
        p.on_run_failed(now)
    assert p.seconds_until_next_attempt(now=600, next_run_at=900) == 900
    assert p.seconds_until_next_attempt(now=2000, next_run_at=1800) == 0


def test_a_sink_timer_driven_by_the_policy() -> None:
    """Walk a 5-minute timer through a database that is locked for a while, then broken, then fixed."""
    p = RunPolicy(random=lambda: 0.0)
    interval = 300.0
    outcomes = {
        0: ["locked", "ok"],  # one transient blip, retried within the run
        300: ["no table"], 600: ["no table"], 900: ["no table"],  # fatal three times: skip
        1800: ["no table"],  # the probe after the skip fails: skip again
        2700: ["ok"],
    }
    errors = {
        "locked": sqlite3.OperationalError("database is locked"),
        "no table": sqlite3.OperationalError("no such table: x"),
    }
    log: list[tuple[float, str]] = []
    for boundary in (0.0, 300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0, 2100.0, 2400.0, 2700.0):
        if not p.should_run(boundary):
            log.append((boundary, "skipped"))
            continue
        now = boundary
        for attempt, outcome in enumerate(outcomes[int(boundary)], start=1):
            if outcome == "ok":
                p.on_run_succeeded()
                log.append((now, f"ok after {attempt}"))
                break
            exc = errors[outcome]
            retry = classify(exc) == "transient"
            delay = p.next_retry_delay(attempt, now, deadline=boundary + interval) if retry else None
            if delay is None:
                p.on_run_failed(now)
                log.append((now, "failed"))
                break
            now += delay
    assert log == [
        (0.25, "ok after 2"),
        (300.0, "failed"), (600.0, "failed"), (900.0, "failed"),
        (1200.0, "skipped"), (1500.0, "skipped"),
        (1800.0, "failed"),
        (2100.0, "skipped"), (2400.0, "skipped"),
        (2700.0, "ok after 1"),
    ]


# --- the failure log line ---------------------------------------------------------------------


def test_failure_fields_have_the_contract_shape() -> None:
    exc = sqlite3.OperationalError("database is locked")
    assert failure_fields(exc, 900.0) == {
        "event": FAILED_EVENT,
        "error": "sqlite3.OperationalError: database is locked",
        "error_class": "transient",
        "retry_in_seconds": 900.0,
    }
    assert failure_fields(ValueError("x"), None, window_end=5)["retry_in_seconds"] is None
    assert failure_fields(ValueError("x"), 0.123456, window_end=5)["window_end"] == 5


def test_failure_line_as_logged() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging("json", "INFO", stream=out)
        log_event(logging.getLogger("kukuri_trending.sink"), level=logging.ERROR,
                  **failure_fields(PermissionError(13, "Permission denied"), 299.5))
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)
    line = json.loads(out.getvalue())
    assert line["event"] == "trending_metrics_job.failed"
    assert line["error"] == "PermissionError: [Errno 13] Permission denied"
    assert line["retry_in_seconds"] == 299.5
    assert line["level"] == "ERROR"


def test_error_descriptions_are_one_bounded_line() -> None:
    assert describe_error(RuntimeError()) == "RuntimeError"
    assert describe_error(ValueError("a\n  b")) == "ValueError: a b"
    long = describe_error(ValueError("x" * 2000))
    assert len(long) == 500 and long.endswith("…")
