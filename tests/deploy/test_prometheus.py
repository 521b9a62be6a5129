"""Prometheus config and alert rules: promtool's own checks and unit tests, plus the names they use.

promtool comes from Debian's `prometheus` package (`apt-get install prometheus`); without it the
promtool tests skip and the structural checks below still run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY, generate_latest

from tests.observability.exposition import all_metric_names, parse

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy/prometheus"
RULES = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"]]
RUNBOOK = (ROOT / "docs/runbook.md").read_text()
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(kukuri_[a-z0-9_]+)", expr))


@needs_promtool
def test_promtool_accepts_the_config_and_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", str(PROMETHEUS_DIR / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


@needs_promtool
def test_alerts_fire_when_they_should_and_not_before() -> None:
    result = promtool("test", "rules", str(Path(__file__).with_name("alerts_test.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_by_the_promtool_unit_tests() -> None:
    tests = yaml.safe_load(Path(__file__).with_name("alerts_test.yml").read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert tested == {rule["alert"] for rule in ALERTS}


def test_rules_only_use_metrics_kukuri_trending_exports() -> None:
    known = all_metric_names()
    for rule in ALERTS:
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule['alert']} uses {sorted(unknown)}"


def test_the_process_start_time_the_staleness_rule_relies_on_is_exported() -> None:
    assert "process_start_time_seconds" in parse(generate_latest(REGISTRY).decode())[1]
    stale = next(rule for rule in ALERTS if rule["alert"] == "KukuriTrendingSnapshotStale")
    assert "process_start_time_seconds{" in stale["expr"]


def test_millisecond_timestamps_are_converted_before_comparing_with_time() -> None:
    for rule in ALERTS:
        for match in re.finditer(r"kukuri_[a-z0-9_]+_timestamp\)?", rule["expr"]):
            rest = rule["expr"][match.end():].lstrip()
            assert rest.startswith("/ 1000"), f"{rule['alert']}: {match.group()} is in milliseconds"


def test_kukuris_operator_requests_are_covered() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in ALERTS}
    assert "increase(kukuri_trending_metrics_job_failures_total[10m]) >= 2" in exprs["KukuriTrendingJobFailing"]
    assert "> 600" in exprs["KukuriTrendingSnapshotStale"]
    assert "histogram_quantile(0.95" in exprs["KukuriTrendingJobSlowP95"]
    assert "histogram_quantile(0.99" in exprs["KukuriTrendingJobSlowP99"]
    assert "kukuri_trending_dead_letters_total" in exprs["KukuriTrendingDeadLetters"]
    assert "kukuri_trending_consumer_lag_messages" in exprs["KukuriTrendingConsumerLag"]
    # Table size: expiry failures, not traffic (no fixed row count).
    assert "kukuri_trending_topic_metrics_expired_rows > 0" in exprs["KukuriTrendingExpiryFailing"]
    assert "kukuri_trending_topic_metrics_row_limit" in exprs["KukuriTrendingExpiryFailing"]
    assert "max(kukuri_trending_metrics_job_enabled) == 1" in exprs["KukuriTrendingSnapshotStale"]


def test_every_alert_has_severity_summary_and_a_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", RUNBOOK, flags=re.MULTILINE)
    }
    for rule in ALERTS:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert path == "docs/runbook.md"
        assert anchor in anchors, f"{rule['alert']}: no section #{anchor} in docs/runbook.md"


def test_the_rule_file_prometheus_loads_is_this_one() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert [(PROMETHEUS_DIR / f).resolve() for f in config["rule_files"]] == [(PROMETHEUS_DIR / "alerts.yml").resolve()]
