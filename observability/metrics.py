"""Every Prometheus metric kukuri-trending exports, defined once.

Job metrics keep the names, units and HELP texts of kukuri's own exporter so its dashboards and
alerts keep working; stream metrics use the `kukuri_trending_` prefix. The worker only talks to the
two facades below, never to prometheus_client directly, so names cannot drift between call sites.

Both facades register on a registry (the process-wide default unless a test passes its own), and
are obtained through `job_metrics()` / `stream_metrics()`, which return the same instance for the
same registry: registering a name twice would raise inside prometheus_client.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Mapping, Sequence
from typing import Final, Literal, get_args

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from config.settings import ScoreWeights
from sinks.storage.snapshots import RunRecord
from sinks.storage.table_health import TopicMetricsHealth
from streams.events import DEAD_LETTER_REASONS, KINDS, DeadLetterReason
from streams.profile_comparison import RankingComparison
from streams.scoring import ScoreProfile
from streams.windows import W24

# kukuri's exporter has no `<name>_created` series, and they would show up as extra metric
# families next to kukuri's names. This is a process-wide switch of prometheus_client.
disable_created_metrics()

JOB: Final = "kukuri_trending_metrics_job"
DURATION_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EventResult = Literal["counted", "duplicate", "retracted", "late", "dead_lettered"]
EVENT_RESULTS: Final[tuple[EventResult, ...]] = get_args(EventResult)
# A dead-lettered value may not have a valid kind at all; it is counted under this label.
INVALID_KIND: Final = "invalid"
EVENT_KINDS: Final[tuple[str, ...]] = (*KINDS, INVALID_KIND)


class JobMetrics:
    """The snapshot job's metrics, named as in kukuri (`kukuri_trending_metrics_job_*`)."""

    def __init__(self, registry: CollectorRegistry, *, emit_histogram: bool) -> None:
        self._registry = registry
        # prometheus_client appends `_total` to a counter's family name; passing the name with the
        # suffix keeps the exposed sample name exactly kukuri's.
        self._runs = Counter(
            f"{JOB}_runs_total", "Total number of successful trending metrics job executions",
            registry=registry,
        )
        self._failures = Counter(
            f"{JOB}_failures_total", "Total number of failed trending metrics job executions",
            registry=registry,
        )
        self._topics_upserted = Gauge(
            f"{JOB}_topics_upserted",
            "Number of topics upserted by the last successful trending metrics job execution",
            registry=registry,
        )
        self._expired_records = Gauge(
            f"{JOB}_expired_records",
            "Number of expired topic_metrics records deleted by the last successful trending metrics job execution",
            registry=registry,
        )
        self._last_success = Gauge(
            f"{JOB}_last_success_timestamp",
            "Unix time in milliseconds of the last successful trending metrics job execution",
            registry=registry,
        )
        self._last_failure = Gauge(
            f"{JOB}_last_failure_timestamp",
            "Unix time in milliseconds of the last failed trending metrics job execution",
            registry=registry,
        )
        self._window_start = Gauge(
            f"{JOB}_window_start_ms",
            "Start of the 24h window of the last successful snapshot, Unix time in milliseconds",
            registry=registry,
        )
        self._window_end = Gauge(
            f"{JOB}_window_end_ms",
            "End (boundary) of the windows of the last successful snapshot, Unix time in milliseconds",
            registry=registry,
        )
        self._lag = Gauge(
            f"{JOB}_lag_ms",
            "Milliseconds between the last successful snapshot's window end and its commit",
            registry=registry,
        )
        self._weights = {
            name: Gauge(
                f"kukuri_trending_metrics_score_weight_{name}",
                f"Weight of {name} in the trending score",
                registry=registry,
            )
            for name in ("posts", "unique_authors", "boosts")
        }
        self._enabled = Gauge(
            f"{JOB}_enabled",
            "1 when this worker runs the trending metrics job (metrics.enabled), 0 when it is switched off",
            registry=registry,
        )
        self._last_duration = Gauge(
            f"{JOB}_last_duration_seconds",
            "Duration of the last successful trending metrics job execution in seconds",
            registry=registry,
        )
        self._table_rows = Gauge(
            "kukuri_trending_topic_metrics_rows",
            "Rows in the topic_metrics table after the last snapshot",
            registry=registry,
        )
        self._table_expected_rows = Gauge(
            "kukuri_trending_topic_metrics_expected_rows",
            "Rows the snapshots inside the TTL explain: their count times the most topics one of them wrote",
            registry=registry,
        )
        self._table_row_limit = Gauge(
            "kukuri_trending_topic_metrics_row_limit",
            "Expected rows plus metrics.row_count_margin: more rows than this in topic_metrics means expiry is failing",
            registry=registry,
        )
        self._table_expired_rows = Gauge(
            "kukuri_trending_topic_metrics_expired_rows",
            "Rows older than the TTL still in topic_metrics after the last snapshot's expiry; anything but 0 is a fault",
            registry=registry,
        )
        self._profile_info = Gauge(
            "kukuri_trending_score_profile_info",
            "1 per score profile this worker computes, labelled with its fingerprint and role (active or shadow)",
            ["profile", "fingerprint", "role"], registry=registry,
        )
        self._profile_overlap = Gauge(
            "kukuri_trending_score_profile_top_overlap",
            "Share of the top N (10 or 50) a shadow score profile has in common with the active one in the last "
            "snapshot, 0..1",
            ["profile", "top"], registry=registry,
        )
        self._profile_tau = Gauge(
            "kukuri_trending_score_profile_kendall_tau",
            "Kendall's tau-b between a shadow score profile's and the active top-50 lists in the last snapshot, -1..1",
            ["profile"], registry=registry,
        )
        self._duration = Histogram(
            f"{JOB}_duration_seconds", "Duration of trending metrics job executions in seconds",
            buckets=DURATION_BUCKETS, registry=None,
        )
        self._histogram_registered = False
        self.use_histogram(emit_histogram)

    def use_histogram(self, enabled: bool) -> None:
        """Expose the duration histogram or not (`metrics.emit_histogram`); it records only while exposed.
        `_last_duration_seconds` is exported either way, so a run's duration is always visible."""
        if enabled and not self._histogram_registered:
            self._registry.register(self._duration)
        elif not enabled and self._histogram_registered:
            self._registry.unregister(self._duration)
        self._histogram_registered = enabled

    def record_success(self, run: RunRecord, lag_ms: int | None = None) -> None:
        """Account for one committed snapshot.

        `lag_ms` defaults to how long after its boundary the snapshot was committed
        (`finished_at - window_end`), which is what an operator compares with the interval.
        """
        self._runs.inc()
        self._topics_upserted.set(run.topics_upserted)
        self._expired_records.set(run.expired_records)
        self._last_success.set(run.finished_at)
        self._window_start.set(run.window_end - W24.length_ms)
        self._window_end.set(run.window_end)
        self._lag.set(run.finished_at - run.window_end if lag_ms is None else lag_ms)
        self._last_duration.set(run.duration_ms / 1000)
        if self._histogram_registered:
            self._duration.observe(run.duration_ms / 1000)

    def record_failure(self, now_ms: int) -> None:
        """Account for one failed run: call once per run, after its retries, not per attempt."""
        self._failures.inc()
        self._last_failure.set(now_ms)

    def restore_last_success(self, finished_at_ms: int) -> None:
        """Seed the last-success gauge at start-up from `trending_runs`, so a restarted worker does
        not look like it never succeeded (staleness alerts compare this gauge with the clock)."""
        self._last_success.set(finished_at_ms)

    def set_weights(self, weights: ScoreWeights) -> None:
        self._weights["posts"].set(weights.posts)
        self._weights["unique_authors"].set(weights.unique_authors)
        self._weights["boosts"].set(weights.boosts)

    def set_profiles(self, computed: Sequence[ScoreProfile]) -> None:
        """The profiles this worker computes, the active one first."""
        self._profile_info.clear()
        for i, profile in enumerate(computed):
            self._profile_info.labels(profile.name, profile.fingerprint, "active" if i == 0 else "shadow").set(1)

    def record_comparisons(self, comparisons: Sequence[RankingComparison]) -> None:
        """How far each shadow's ranking is from the active one in the last snapshot; a measure with
        nothing to compare (no ranked topic) has no series."""
        self._profile_overlap.clear()
        self._profile_tau.clear()
        for c in comparisons:
            for top, overlap in (("10", c.overlap_top10), ("50", c.overlap_top50)):
                if overlap is not None:
                    self._profile_overlap.labels(c.profile, top).set(overlap)
            if c.kendall_tau is not None:
                self._profile_tau.labels(c.profile).set(c.kendall_tau)

    def set_enabled(self, enabled: bool) -> None:
        """Whether the job runs here: the staleness alert ignores workers that do not run it."""
        self._enabled.set(1 if enabled else 0)

    def record_table_health(self, health: TopicMetricsHealth, row_limit: int) -> None:
        """What the table check after a snapshot saw (see `observability.alerts.check_table_size`)."""
        self._table_rows.set(health.rows)
        self._table_expected_rows.set(health.expected_rows)
        self._table_row_limit.set(row_limit)
        self._table_expired_rows.set(health.expired_rows)


class StreamMetrics:
    """The ingest loop's metrics. Called once per batch; label children are bound up front so a
    batch costs one dict lookup and one lock per distinct (kind, result), not per event."""

    def __init__(self, registry: CollectorRegistry) -> None:
        events = Counter(
            "kukuri_trending_events_total", "Events consumed from the events topic, by kind and outcome",
            ["kind", "result"], registry=registry,
        )
        self._events = {
            (kind, result): events.labels(kind, result)
            for kind, result in itertools.product(EVENT_KINDS, EVENT_RESULTS)
        }
        dead_letters = Counter(
            "kukuri_trending_dead_letters_total", "Events sent to the dead-letter topic, by reason",
            ["reason"], registry=registry,
        )
        self._dead_letters = {reason: dead_letters.labels(reason) for reason in DEAD_LETTER_REASONS}
        self._event_time_lag = Gauge(
            "kukuri_trending_event_time_lag_ms",
            "Wall-clock time minus created_at of the newest event of the last processed batch, in milliseconds",
            registry=registry,
        )
        self._consumer_lag = Gauge(
            "kukuri_trending_consumer_lag_messages",
            "Records between this worker's position and the high watermark, per assigned partition",
            ["partition"], registry=registry,
        )
        self._lag_partitions: set[str] = set()
        self._active_topics = Gauge(
            "kukuri_trending_active_topics",
            "Topics with at least one live fact in the 24h window, in this worker's partitions",
            registry=registry,
        )
        self._state_keys = Gauge(
            "kukuri_trending_state_keys", "Keys in this worker's local state store", registry=registry,
        )
        self._state_bytes = Gauge(
            "kukuri_trending_state_bytes", "Size of this worker's local state store on disk, in bytes",
            registry=registry,
        )
        self._snapshot_rows = Gauge(
            "kukuri_trending_snapshot_rows",
            "Rows this worker wrote for its partitions in the last snapshot",
            registry=registry,
        )

    def add_events(self, counts: Mapping[tuple[str, EventResult], int]) -> None:
        """Add a batch's per-(kind, result) counts. Use `INVALID_KIND` for values without a valid kind."""
        for key, n in counts.items():
            try:
                child = self._events[key]
            except KeyError:
                # Labels come from fixed sets; anything else is a caller bug, and accepting it would
                # let arbitrary input create unbounded time series.
                raise ValueError(f"unknown (kind, result) label pair {key!r}") from None
            child.inc(n)

    def event(self, kind: str, result: EventResult, n: int = 1) -> None:
        self.add_events({(kind, result): n})

    def add_dead_letters(self, counts: Mapping[DeadLetterReason, int]) -> None:
        for reason, n in counts.items():
            try:
                child = self._dead_letters[reason]
            except KeyError:
                raise ValueError(f"unknown dead-letter reason {reason!r}") from None
            child.inc(n)

    def set_event_time_lag(self, lag_ms: int) -> None:
        self._event_time_lag.set(lag_ms)

    def set_consumer_lag(self, lags: Mapping[int, int]) -> None:
        """Lag of every partition this worker owns now; partitions it lost stop being exported."""
        current = {str(p) for p in lags}
        for gone in self._lag_partitions - current:
            self._consumer_lag.remove(gone)
        for partition, lag in lags.items():
            self._consumer_lag.labels(str(partition)).set(lag)
        self._lag_partitions = current

    def set_active_topics(self, topics: int) -> None:
        self._active_topics.set(topics)

    def set_state_size(self, *, keys: int, size_bytes: int) -> None:
        self._state_keys.set(keys)
        self._state_bytes.set(size_bytes)

    def set_snapshot_rows(self, rows: int) -> None:
        self._snapshot_rows.set(rows)


_job: weakref.WeakKeyDictionary[CollectorRegistry, JobMetrics] = weakref.WeakKeyDictionary()
_stream: weakref.WeakKeyDictionary[CollectorRegistry, StreamMetrics] = weakref.WeakKeyDictionary()


def job_metrics(*, emit_histogram: bool = False, registry: CollectorRegistry = REGISTRY) -> JobMetrics:
    """The job metrics of `registry`, created on first use; later calls may switch the histogram."""
    metrics = _job.get(registry)
    if metrics is None:
        metrics = _job[registry] = JobMetrics(registry, emit_histogram=emit_histogram)
    else:
        metrics.use_histogram(emit_histogram)
    return metrics


def stream_metrics(registry: CollectorRegistry = REGISTRY) -> StreamMetrics:
    """The stream metrics of `registry`, created on first use."""
    metrics = _stream.get(registry)
    if metrics is None:
        metrics = _stream[registry] = StreamMetrics(registry)
    return metrics

