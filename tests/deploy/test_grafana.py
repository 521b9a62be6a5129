"""The provisioned Grafana datasource and dashboard: valid, wired together, and about real metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability.exposition import all_metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy/grafana"
DASHBOARD = json.loads((GRAFANA / "dashboards/kukuri-trending.json").read_text())
DATASOURCES = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"]
PANELS = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
EXPRS = [(p["title"], t["expr"]) for p in PANELS for t in p["targets"]]


def test_datasource_points_at_the_compose_prometheus() -> None:
    [source] = DATASOURCES
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "prometheus" in compose["services"]


def test_every_panel_uses_the_provisioned_datasource() -> None:
    uid = DATASOURCES[0]["uid"]
    for panel in PANELS:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert all(t["datasource"]["uid"] == uid for t in panel["targets"]), panel["title"]


def test_panels_only_query_metrics_kukuri_trending_exports() -> None:
    known = all_metric_names()
    for title, expr in EXPRS:
        unknown = set(re.findall(r"\b(kukuri_[a-z0-9_]+)", expr)) - known
        assert not unknown, f"{title}: {sorted(unknown)}"


def test_the_operator_panels_are_there() -> None:
    used = " ".join(expr for _, expr in EXPRS)
    for metric in (
        "kukuri_trending_metrics_job_runs_total",
        "kukuri_trending_metrics_job_failures_total",
        "kukuri_trending_metrics_job_last_success_timestamp",
        "kukuri_trending_metrics_job_duration_seconds_bucket",
        "kukuri_trending_metrics_job_last_duration_seconds",
        "kukuri_trending_topic_metrics_rows",
        "kukuri_trending_topic_metrics_row_limit",
        "kukuri_trending_topic_metrics_expired_rows",
        "process_start_time_seconds",
        "kukuri_trending_metrics_job_topics_upserted",
        "kukuri_trending_events_total",
        "kukuri_trending_dead_letters_total",
        "kukuri_trending_consumer_lag_messages",
        "kukuri_trending_event_time_lag_ms",
        "kukuri_trending_active_topics",
        "kukuri_trending_state_bytes",
    ):
        assert metric in used, metric
    assert "sum by (result)" in used and "sum by (reason)" in used


def test_last_success_age_converts_milliseconds() -> None:
    [expr] = [e for _, e in EXPRS if "last_success_timestamp" in e]
    assert expr == "time() - max(kukuri_trending_metrics_job_last_success_timestamp) / 1000"


def test_layout_has_unique_ids_and_no_overlapping_panels() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & area, f"{panel['title']} overlaps another panel"
        cells |= area


def test_provider_loads_the_dashboard_directory() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/kukuri-trending.yml").read_text())
    [entry] = provider["providers"]
    assert entry["type"] == "file"
    assert DASHBOARD["uid"] == "kukuri-trending"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)")
def test_panel_queries_are_valid_promql(tmp_path: Path) -> None:
    # promtool has no "check this expression" command; recording rules are checked the same way.
    rules = {
        "groups": [{
            "name": "dashboard",
            "rules": [
                {"record": f"dashboard:panel_{i}", "expr": expr.replace("$__rate_interval", "1m")}
                for i, (_, expr) in enumerate(EXPRS)
            ],
        }]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
