"""Every series the alert rules and the dashboard query exists at the compose deployment's settings.

The worker's metrics are built from the settings a compose worker loads (its environment and the
mounted `deploy/compose/app.toml`), fed one snapshot's worth of updates through the same facade
calls the worker makes, and scraped over HTTP from the real exporter. A rule or panel that queries
a series missing from that scrape would show nothing in the compose deployment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client import CollectorRegistry, ProcessCollector

from config.settings import Settings, load_settings
from observability.alerts import row_limit
from observability.metrics import job_metrics, stream_metrics
from observability.metrics_server import start_metrics_server
from sinks.storage.snapshots import RunRecord
from sinks.storage.table_health import TopicMetricsHealth
from tests.deploy.test_compose import settings_of
from tests.observability.exposition import parse

ROOT = Path(__file__).resolve().parents[2]
RULES = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/grafana/dashboards/kukuri-trending.json").read_text())
EXPRS = [(rule["alert"], rule["expr"]) for group in RULES["groups"] for rule in group["rules"]] + [
    (panel["title"], target["expr"]) for panel in DASHBOARD["panels"] for target in panel.get("targets", [])
]
# Series Prometheus makes itself, not the exporter.
PROMETHEUS_OWN = {"up"}
_SERIES = re.compile(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\)|\s|$)")
_NOT_SERIES = {
    "sum", "max", "min", "by", "on", "and", "or", "unless", "rate", "increase", "changes", "time", "absent",
    "histogram_quantile", "quantile_over_time", "le", "group_left", "bool",
}

pytestmark = pytest.mark.integration


def series_in(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", "{}", expr)
    without_groupings = re.sub(r"\b(by|on|group_left)\s*\([^)]*\)", "", without_labels)
    return {name for name in _SERIES.findall(without_groupings) if name not in _NOT_SERIES} - PROMETHEUS_OWN


async def scrape_worker(settings: Settings) -> set[str]:
    """Sample names a worker with `settings` exports after one committed snapshot."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # as on prometheus_client's default registry, which the worker serves
    jobs = job_metrics(emit_histogram=settings.metrics.emit_histogram, registry=registry)
    streams = stream_metrics(registry)
    jobs.set_weights(settings.metrics.score_weights)
    jobs.set_enabled(settings.metrics.enabled)
    run = RunRecord(1_731_229_500_000, "stream", 1_731_229_500_100, 1_731_229_500_900, 40, 3, 800)
    jobs.record_success(run)
    jobs.record_failure(1_731_229_800_000)
    health = TopicMetricsHealth(rows=40 * 577, expired_rows=0, snapshots=577, peak_topics=40)
    jobs.record_table_health(health, row_limit(health, settings.metrics.row_count_margin))
    streams.set_consumer_lag({0: 3, 1: 0})
    streams.set_event_time_lag(1_200)
    streams.set_active_topics(40)
    streams.set_state_size(keys=900, size_bytes=65_536)
    streams.set_snapshot_rows(40)
    server = await start_metrics_server(0, registry=registry)
    try:
        async with aiohttp.ClientSession() as session, session.get(server.url) as response:
            text = await response.text()
    finally:
        await server.stop()
    return {key.partition("{")[0] for key in parse(text)[2]}


def test_the_series_finder_sees_what_a_query_uses() -> None:
    expr = 'sum by (le) (rate(a_bucket{le="1"}[5m])) or max(quantile_over_time(0.9, b[30m])) and on (instance) c == 1'
    assert series_in(expr) == {"a_bucket", "b", "c"}


def test_the_compose_workers_emit_the_histogram() -> None:
    assert settings_of("worker-1").metrics.emit_histogram
    assert settings_of("worker-2").metrics.emit_histogram


async def test_every_series_of_the_rules_and_panels_is_exported_at_the_compose_settings() -> None:
    exported = await scrape_worker(settings_of("worker-1"))
    for name, expr in EXPRS:
        missing = series_in(expr) - exported
        assert not missing, f"{name}: {sorted(missing)} not exported by a compose worker"


async def test_run_duration_is_visible_without_the_histogram() -> None:
    exported = await scrape_worker(load_settings(environ={}))
    assert "kukuri_trending_metrics_job_duration_seconds_bucket" not in exported
    assert "kukuri_trending_metrics_job_last_duration_seconds" in exported
    for name, expr in EXPRS:
        if "_duration_seconds_bucket" in expr and "kukuri_trending_metrics_job" in expr:
            assert "kukuri_trending_metrics_job_last_duration_seconds" in expr, f"{name} has no gauge fallback"
