"""`kukuri-trending run` on the embedded defaults: broker, worker, sink and API in one process."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker.embedded import free_loopback_port
from tests.fixtures.net import listening_addresses
from tests.fixtures.trending_env import REPO

pytestmark = pytest.mark.integration


def start_run(root: Path, log_name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUKURI_")}
    env["PYTHONPATH"] = str(REPO)
    log = (root / log_name).open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--config", str(root / "app.toml"), "--log-format", "json", "run",
         "--demo-history", "400", "--demo-topics", "12", *extra],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
    )


def runs_since(db: Path, since: int) -> list[tuple[int, int]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT window_end, topics_upserted FROM trending_runs"
                            " WHERE finished_at >= ? AND source = 'stream'", (since,)).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def wait_for_run(db: Path, since: int, proc: subprocess.Popen[bytes], log: Path) -> list[tuple[int, int]]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        runs = runs_since(db, since)
        if runs:
            return runs
        time.sleep(0.3)
    raise AssertionError(f"no snapshot within 90 s:\n{log.read_text()[-3000:]}")


def events(log: Path, name: str) -> list[dict]:
    return [j for j in (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
            if j.get("event") == name]


def test_run_serves_snapshots_listens_on_loopback_only_and_survives_an_empty_broker(tmp_path: Path) -> None:
    db = tmp_path / "data" / "kukuri.db"
    api_port = free_loopback_port()
    (tmp_path / "app.toml").write_text(
        f'[database]\npath = "{db}"\n[stream]\ndata_dir = "{tmp_path / "data" / "state"}"\n[api]\nport = {api_port}\n'
    )
    first_log = tmp_path / "run-1.log"
    started = int(time.time() * 1000)
    proc = start_run(tmp_path, first_log.name)
    try:
        (run,) = wait_for_run(db, started, proc, first_log)[:1]
        assert run[1] == 12  # the back-dated history makes every demo topic trend at start-up
        with sqlite3.connect(db) as conn:  # and the past boundaries were filled for the dashboard
            (history,) = conn.execute("SELECT COUNT(*) FROM trending_runs WHERE source = 'reconcile'").fetchone()
        assert history >= 24 * 12
        runtime = json.loads((db.parent / "kukuri.runtime.json").read_text())
        broker_pid = int(events(first_log, "trending_broker.started")[0]["pid"])
        for pid in (proc.pid, broker_pid):
            addresses = listening_addresses(pid)
            assert addresses and all(host == "127.0.0.1" for host, _ in addresses), addresses
        assert runtime["broker_url"].startswith("kafka://127.0.0.1:")
        # Other commands find the embedded broker through the runtime file, with no extra flags.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUKURI_")} | {"PYTHONPATH": str(REPO)}
        materialized = subprocess.run(
            [sys.executable, "-m", "cli.main", "--config", str(tmp_path / "app.toml"), "materialize", "--json"],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert materialized.returncode == 0, materialized.stderr
        assert json.loads(materialized.stdout)["topics"] == 12
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, first_log.read_text()[-3000:]
    assert not (db.parent / "kukuri.runtime.json").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(broker_pid, 0)

    # The embedded broker is memory-only: the second run starts on an empty one, with the first
    # run's RocksDB state still on disk. That state must be recognised as stale, not crash the
    # worker, and the partitions are rebuilt from the app database.
    second_log = tmp_path / "run-2.log"
    restarted = int(time.time() * 1000)
    proc = start_run(tmp_path, second_log.name, "--no-api")
    try:
        wait_for_run(db, restarted, proc, second_log)
        loaded = sum(e["loaded_from_app_db"] for e in events(second_log, "trending_stream.partition_assigned"))
        assert loaded > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, second_log.read_text()[-3000:]
