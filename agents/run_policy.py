"""When to retry a failed snapshot run, and when to stop trying for a while. Pure: no clock, no I/O.

Two levels, as kukuri's job specifies ("3 回連続失敗時に 15 分スキップ"):
- Within a run, a transient error is retried with exponential backoff and jitter, but only while
  the retry can still start before the run's deadline (normally the next boundary), so a late
  retry never overlaps the next run.
- Across runs, after `failures_before_skip` consecutive failed runs the job skips the next
  `skip_minutes`, then tries again. While the failure streak lasts, each further failed run skips
  again at once (one probe per skip period) instead of burning through another streak of failures
  against a database that is still broken.

Times are seconds on whatever clock the caller uses (loop time or wall time), passed in, so tests
need no sleeping and no patching.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from config.settings import BackoffSettings
from observability.error_reports import describe_error
from sinks.failures import classify

FAILED_EVENT: Final = "trending_metrics_job.failed"
# 2**62 times any sane initial delay is far past max_retry_seconds; capping the exponent keeps the
# arithmetic in floats' range for any attempt number.
_MAX_EXPONENT: Final = 62


@dataclass
class RunPolicy:
    failures_before_skip: int = 3
    skip_seconds: float = 15 * 60
    initial_retry_seconds: float = 0.5
    max_retry_seconds: float = 30.0
    random: Callable[[], float] = _random.random
    consecutive_failures: int = field(default=0, init=False)
    skip_until: float | None = field(default=None, init=False)

    @classmethod
    def from_settings(cls, backoff: BackoffSettings, *, random: Callable[[], float] = _random.random) -> RunPolicy:
        return cls(
            failures_before_skip=backoff.failures_before_skip,
            skip_seconds=backoff.skip_minutes * 60.0,
            initial_retry_seconds=backoff.initial_retry_seconds,
            max_retry_seconds=backoff.max_retry_seconds,
            random=random,
        )

    def next_retry_delay(self, attempt: int, now: float, deadline: float) -> float | None:
        """Seconds to wait before retrying after failed attempt number `attempt` (1-based), or None
        when that retry could not start by `deadline` and the run should be given up.

        The ceiling doubles per attempt up to `max_retry_seconds`; the delay is drawn uniformly
        from its upper half ("equal jitter"): workers that failed together spread out, yet each
        still waits at least half the ceiling.
        """
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        ceiling = min(self.max_retry_seconds, self.initial_retry_seconds * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
        delay = ceiling / 2 + self.random() * ceiling / 2
        return delay if now + delay <= deadline else None

    def should_run(self, now: float) -> bool:
        """False while a skip period is in force."""
        return self.skip_until is None or now >= self.skip_until

    def on_run_failed(self, now: float) -> float | None:
        """Record a failed run (after its retries); returns the end of the skip period it starts, if any."""
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.failures_before_skip and self.skip_seconds > 0:
            self.skip_until = now + self.skip_seconds
            return self.skip_until
        return None

    def on_run_succeeded(self) -> None:
        self.consecutive_failures = 0
        self.skip_until = None

    def seconds_until_next_attempt(self, now: float, next_run_at: float) -> float:
        """When the job will try again: the next scheduled run, or the end of a skip if later."""
        start = next_run_at if self.skip_until is None else max(next_run_at, self.skip_until)
        return max(start - now, 0.0)


def failure_fields(exc: BaseException, retry_in_seconds: float | None, **extra: Any) -> dict[str, Any]:
    """Fields of the failure log line kukuri's operators grep for, e.g. for
    `log_event(log, level=logging.ERROR, **failure_fields(exc, 900.0, window_end=E))`:
    `{"event": "trending_metrics_job.failed", "error": "...", "retry_in_seconds": 900.0, ...}`.

    `retry_in_seconds` is None when no further attempt is scheduled (the worker is stopping).
    """
    return {
        "event": FAILED_EVENT,
        "error": describe_error(exc),
        "error_class": classify(exc),
        "retry_in_seconds": None if retry_in_seconds is None else round(retry_in_seconds, 3),
        **extra,
    }
