"""The exported names, types, HELP texts and values are kukuri's, plus the additions operators rely on."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

from config.settings import ScoreWeights
from observability.metrics import DURATION_BUCKETS, INVALID_KIND, job_metrics, stream_metrics
from sinks.storage.snapshots import RunRecord
from sinks.storage.table_health import TopicMetricsHealth
from tests.observability.exposition import all_metric_names, parse

E = 1_731_229_200_000  # a 5-minute boundary
RUN = RunRecord(
    window_end=E, source="stream", started_at=E + 1_000, finished_at=E + 1_820,
    topics_upserted=42, expired_records=7, duration_ms=820,
)

JOB_FAMILIES = {
    "kukuri_trending_metrics_job_runs_total": "counter",
    "kukuri_trending_metrics_job_failures_total": "counter",
    "kukuri_trending_metrics_job_topics_upserted": "gauge",
    "kukuri_trending_metrics_job_expired_records": "gauge",
    "kukuri_trending_metrics_job_last_success_timestamp": "gauge",
    "kukuri_trending_metrics_job_last_failure_timestamp": "gauge",
    "kukuri_trending_metrics_job_duration_seconds": "histogram",
    "kukuri_trending_metrics_job_window_start_ms": "gauge",
    "kukuri_trending_metrics_job_window_end_ms": "gauge",
    "kukuri_trending_metrics_job_lag_ms": "gauge",
    "kukuri_trending_metrics_score_weight_posts": "gauge",
    "kukuri_trending_metrics_score_weight_unique_authors": "gauge",
    "kukuri_trending_metrics_score_weight_boosts": "gauge",
}


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_job_families_have_kukuris_names_and_types() -> None:
    registry = CollectorRegistry()
    job_metrics(emit_histogram=True, registry=registry)
    helps, types, _ = parse(exposition(registry))
    for name, kind in JOB_FAMILIES.items():
        assert types.get(name) == kind, name
    assert helps["kukuri_trending_metrics_job_runs_total"] == (
        "Total number of successful trending metrics job executions"
    )


def test_counters_are_exposed_without_a_doubled_suffix_or_created_series() -> None:
    registry = CollectorRegistry()
    job_metrics(registry=registry).record_failure(E)
    text = exposition(registry)
    assert "kukuri_trending_metrics_job_runs_total 0.0" in text.splitlines()
    assert "kukuri_trending_metrics_job_failures_total 1.0" in text.splitlines()
    assert "_total_total" not in text
    assert "_created" not in text


def test_success_sets_every_job_gauge_from_the_run_record() -> None:
    registry = CollectorRegistry()
    metrics = job_metrics(emit_histogram=True, registry=registry)
    metrics.record_success(RUN)
    _, _, samples = parse(exposition(registry))
    job = "kukuri_trending_metrics_job"
    assert samples[f"{job}_runs_total"] == 1
    assert samples[f"{job}_topics_upserted"] == 42
    assert samples[f"{job}_expired_records"] == 7
    assert samples[f"{job}_last_success_timestamp"] == E + 1_820
    assert samples[f"{job}_window_end_ms"] == E
    assert samples[f"{job}_window_start_ms"] == E - 86_400_000
    assert samples[f"{job}_lag_ms"] == 1_820
    assert samples[f"{job}_duration_seconds_sum"] == pytest.approx(0.82)
    assert samples[f'{job}_duration_seconds_bucket{{le="0.5"}}'] == 0
    assert samples[f'{job}_duration_seconds_bucket{{le="1.0"}}'] == 1


def test_an_explicit_lag_overrides_the_commit_delay() -> None:
    registry = CollectorRegistry()
    job_metrics(registry=registry).record_success(RUN, lag_ms=5)
    assert parse(exposition(registry))[2]["kukuri_trending_metrics_job_lag_ms"] == 5


def test_histogram_buckets_are_the_contracts() -> None:
    registry = CollectorRegistry()
    job_metrics(emit_histogram=True, registry=registry)
    _, _, samples = parse(exposition(registry))
    les = [
        key.split('le="')[1].rstrip('"}') for key in samples
        if key.startswith("kukuri_trending_metrics_job_duration_seconds_bucket")
    ]
    assert les == [*(str(b) for b in DURATION_BUCKETS), "+Inf"]


def test_histogram_is_exported_only_when_enabled_and_can_be_switched() -> None:
    registry = CollectorRegistry()
    histogram = "kukuri_trending_metrics_job_duration_seconds"
    metrics = job_metrics(emit_histogram=False, registry=registry)
    metrics.record_success(RUN)
    assert histogram not in parse(exposition(registry))[1]
    assert job_metrics(emit_histogram=True, registry=registry) is metrics
    metrics.record_success(RUN)
    assert parse(exposition(registry))[2][f"{histogram}_count"] == 1
    job_metrics(emit_histogram=False, registry=registry)
    assert histogram not in parse(exposition(registry))[1]


@pytest.mark.parametrize("emit_histogram", [False, True])
def test_the_last_run_duration_is_exported_either_way(emit_histogram: bool) -> None:
    registry = CollectorRegistry()
    job_metrics(emit_histogram=emit_histogram, registry=registry).record_success(RUN)
    assert parse(exposition(registry))[2]["kukuri_trending_metrics_job_last_duration_seconds"] == pytest.approx(0.82)


def test_failure_counts_and_stamps_the_time() -> None:
    registry = CollectorRegistry()
    metrics = job_metrics(registry=registry)
    metrics.record_failure(E + 5)
    metrics.record_failure(E + 9)
    _, _, samples = parse(exposition(registry))
    assert samples["kukuri_trending_metrics_job_failures_total"] == 2
    assert samples["kukuri_trending_metrics_job_last_failure_timestamp"] == E + 9


def test_weights_restore_enabled_and_table_health() -> None:
    registry = CollectorRegistry()
    metrics = job_metrics(registry=registry)
    metrics.set_weights(ScoreWeights(posts=0.5, unique_authors=0.25, boosts=0.125))
    metrics.restore_last_success(E - 60_000)
    metrics.set_enabled(False)
    metrics.record_table_health(TopicMetricsHealth(rows=123, expired_rows=4, snapshots=10, peak_topics=11), 138)
    _, _, samples = parse(exposition(registry))
    assert samples["kukuri_trending_metrics_score_weight_posts"] == 0.5
    assert samples["kukuri_trending_metrics_score_weight_unique_authors"] == 0.25
    assert samples["kukuri_trending_metrics_score_weight_boosts"] == 0.125
    assert samples["kukuri_trending_metrics_job_last_success_timestamp"] == E - 60_000
    assert samples["kukuri_trending_topic_metrics_rows"] == 123
    assert samples["kukuri_trending_topic_metrics_expected_rows"] == 110
    assert samples["kukuri_trending_topic_metrics_row_limit"] == 138
    assert samples["kukuri_trending_topic_metrics_expired_rows"] == 4
    assert samples["kukuri_trending_metrics_job_enabled"] == 0


def test_default_registry_instances_are_shared() -> None:
    # The worker, the sink and the reconciler all ask for the metrics; the second registration
    # of a name in the default registry would raise.
    assert job_metrics() is job_metrics()
    assert stream_metrics() is stream_metrics()
    assert "kukuri_trending_metrics_job_runs_total" in exposition(REGISTRY)


def test_batch_event_counts_land_on_their_labels() -> None:
    registry = CollectorRegistry()
    metrics = stream_metrics(registry)
    metrics.add_events({("post", "counted"): 5, ("boost", "duplicate"): 2, (INVALID_KIND, "dead_lettered"): 1})
    metrics.add_events({("post", "counted"): 3})
    metrics.event("delete", "retracted")
    _, types, samples = parse(exposition(registry))
    assert types["kukuri_trending_events_total"] == "counter"
    assert samples['kukuri_trending_events_total{kind="post",result="counted"}'] == 8
    assert samples['kukuri_trending_events_total{kind="boost",result="duplicate"}'] == 2
    assert samples['kukuri_trending_events_total{kind="invalid",result="dead_lettered"}'] == 1
    assert samples['kukuri_trending_events_total{kind="delete",result="retracted"}'] == 1
    # Every combination is exported from the start, so rate() works from the first scrape.
    assert samples['kukuri_trending_events_total{kind="reply",result="late"}'] == 0


def test_unknown_labels_are_refused_rather_than_creating_series() -> None:
    metrics = stream_metrics(CollectorRegistry())
    with pytest.raises(ValueError, match="unknown"):
        metrics.add_events({("poll", "counted"): 1})
    with pytest.raises(ValueError, match="unknown"):
        metrics.add_dead_letters({"cosmic_ray": 1})  # type: ignore[dict-item]


def test_dead_letters_by_reason() -> None:
    registry = CollectorRegistry()
    metrics = stream_metrics(registry)
    metrics.add_dead_letters({"invalid_json": 2, "future_timestamp": 1})
    metrics.add_dead_letters({"invalid_json": 1})
    _, _, samples = parse(exposition(registry))
    assert samples['kukuri_trending_dead_letters_total{reason="invalid_json"}'] == 3
    assert samples['kukuri_trending_dead_letters_total{reason="future_timestamp"}'] == 1


def test_consumer_lag_follows_the_assignment() -> None:
    registry = CollectorRegistry()
    metrics = stream_metrics(registry)
    metrics.set_consumer_lag({0: 10, 1: 0, 3: 250})
    metrics.set_consumer_lag({1: 4, 3: 0})  # partition 0 moved to another worker
    _, _, samples = parse(exposition(registry))
    lags = {k: v for k, v in samples.items() if k.startswith("kukuri_trending_consumer_lag_messages")}
    assert lags == {
        'kukuri_trending_consumer_lag_messages{partition="1"}': 4,
        'kukuri_trending_consumer_lag_messages{partition="3"}': 0,
    }


def test_gauges_of_the_stream() -> None:
    registry = CollectorRegistry()
    metrics = stream_metrics(registry)
    metrics.set_event_time_lag(1_500)
    metrics.set_active_topics(321)
    metrics.set_state_size(keys=9_000, size_bytes=4_096_000)
    metrics.set_snapshot_rows(160)
    _, _, samples = parse(exposition(registry))
    assert samples["kukuri_trending_event_time_lag_ms"] == 1_500
    assert samples["kukuri_trending_active_topics"] == 321
    assert samples["kukuri_trending_state_keys"] == 9_000
    assert samples["kukuri_trending_state_bytes"] == 4_096_000
    assert samples["kukuri_trending_snapshot_rows"] == 160


def test_every_stream_metric_uses_the_prefix() -> None:
    names = all_metric_names()
    assert names >= {"kukuri_trending_consumer_lag_messages", "kukuri_trending_dead_letters_total"}
    assert all(name.startswith("kukuri_trending_") for name in names)
