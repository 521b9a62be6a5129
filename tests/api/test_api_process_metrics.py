"""The `api` process serves its request metrics on the Prometheus port, for the compose scrape."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from broker.embedded import free_loopback_port
from tests.fixtures.trending_env import REPO

pytestmark = pytest.mark.integration


def test_api_process_exports_request_metrics(tmp_path: Path) -> None:
    api_port, metrics_port = free_loopback_port(), free_loopback_port()
    (tmp_path / "app.toml").write_text(
        f'[database]\npath = "{tmp_path / "kukuri.db"}"\n[api]\nport = {api_port}\n[metrics]\nprometheus_port = {metrics_port}\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUKURI_")} | {"PYTHONPATH": str(REPO)}
    assert subprocess.run([sys.executable, "-m", "cli.main", "--config", str(tmp_path / "app.toml"), "migrate"],
                          env=env, capture_output=True).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--config", str(tmp_path / "app.toml"), "api"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None and "serving" in proc.stdout.readline().decode()
        for path in ("/healthz", "/api/trending/topics?limit=0", "/no/such/page"):
            with contextlib.suppress(urllib.error.HTTPError):
                urllib.request.urlopen(f"http://127.0.0.1:{api_port}{path}", timeout=10)
        deadline = time.monotonic() + 10
        while True:
            text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
            if "kukuri_trending_api_requests_total" in text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert 'kukuri_trending_api_requests_total{route="/api/trending/topics",status="400"} 1.0' in text
        assert 'route="/healthz"' in text
        assert 'kukuri_trending_api_request_duration_seconds_bucket{le="0.001",route="/healthz"}' in text
        assert 'route="unmatched"' in text  # unknown paths do not create a series per URL
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
