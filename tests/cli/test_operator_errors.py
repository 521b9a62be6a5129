"""Failures an operator can fix get one line on stderr that names the problem and the setting,
exit code 1 and no traceback (unless `--log-level debug`), from the real command in a subprocess.

Permission problems are simulated in ways root cannot bypass: a path whose parent is a regular
file (NotADirectoryError), or a database path that is a directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from broker.embedded import free_loopback_port

REPO = Path(__file__).resolve().parents[2]
DATABASE = "database.path (KUKURI_DATABASE_PATH)"
STATE_DIR = "stream.data_dir (KUKURI_STATE_DIR)"
BROKER = "kafka.broker (KUKURI_KAFKA_BROKER)"
EVENT = b'{"v":1,"event_id":"e1","kind":"post","topic_id":"t","author":"a","created_at":1}\n'


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KUKURI_")}
    full_env.update(PYTHONPATH=str(REPO), **(env or {}))
    return subprocess.run([sys.executable, "-m", "cli.main", "--log-format", "json", *args], capture_output=True,
                          text=True, cwd=tmp_path, env=full_env, timeout=120)


def one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    """The single non-log line on stderr, after checking the exit code and that nothing else went wrong."""
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def stopped_broker() -> dict[str, str]:
    """The address of a broker that is not running: a free loopback port nothing listens on."""
    return {"KUKURI_KAFKA_BROKER": f"kafka://127.0.0.1:{free_loopback_port()}"}


@pytest.fixture
def migrated_db(tmp_path: Path) -> Path:
    db = tmp_path / "kukuri.db"
    assert cli(tmp_path, "migrate", env={"KUKURI_DATABASE_PATH": str(db)}).returncode == 0
    return db


@pytest.mark.integration
def test_worker_waits_for_a_stopped_broker_then_names_the_setting(
    tmp_path: Path, stopped_broker: dict[str, str], migrated_db: Path
) -> None:
    (tmp_path / "app.toml").write_text("[kafka]\nstartup_timeout_seconds = 2\n")
    done = cli(tmp_path, "worker", "--config", "app.toml",
               env={**stopped_broker, "KUKURI_DATABASE_PATH": str(migrated_db), "KUKURI_STATE_DIR": "state"})
    line = one_line_failure(done)
    assert line.startswith("kukuri-trending worker: error: cannot reach the Kafka broker") and BROKER in line
    attempts = [json.loads(s) for s in done.stderr.splitlines() if '"trending_broker.waiting"' in s]
    assert len(attempts) >= 2 and [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))


@pytest.mark.integration
def test_produce_to_a_stopped_broker(tmp_path: Path, stopped_broker: dict[str, str]) -> None:
    (tmp_path / "events.jsonl").write_bytes(EVENT)
    done = cli(tmp_path, "produce", "--file", "events.jsonl", env=stopped_broker)
    line = one_line_failure(done)
    assert "cannot reach the Kafka broker" in line and BROKER in line
    assert done.stderr.strip() == line  # no aiokafka log lines or "Unclosed AIOKafkaProducer" beside it


@pytest.mark.integration
@pytest.mark.parametrize("args", [
    ("top",), ("worker",), ("materialize",), ("produce", "--rate", "5", "--duration", "1", "--app-db"),
    ("reconcile",), ("backfill", "--minutes", "10"), ("api", "--port", "0"),
])
def test_a_mistyped_database_path_is_an_error_not_a_new_database(
    tmp_path: Path, stopped_broker: dict[str, str], args: tuple[str, ...]
) -> None:
    typo = tmp_path / "kukuri.bd"
    line = one_line_failure(cli(tmp_path, *args, env={**stopped_broker, "KUKURI_DATABASE_PATH": str(typo)}))
    assert DATABASE in line and str(typo) in line
    assert not typo.exists()


@pytest.mark.integration
@pytest.mark.parametrize("args", [("migrate",), ("run", "--no-api"), ("top",), ("worker",)])
def test_a_database_under_a_regular_file_cannot_be_opened(
    tmp_path: Path, stopped_broker: dict[str, str], args: tuple[str, ...]
) -> None:
    (tmp_path / "plain-file").write_text("")
    line = one_line_failure(cli(tmp_path, *args, env={**stopped_broker, "KUKURI_DATABASE_PATH": "plain-file/kukuri.db"}))
    assert DATABASE in line and "plain-file" in line


@pytest.mark.integration
@pytest.mark.parametrize("args", [("migrate",), ("top",)])
def test_a_database_path_that_is_a_directory(tmp_path: Path, args: tuple[str, ...]) -> None:
    line = one_line_failure(cli(tmp_path, *args, env={"KUKURI_DATABASE_PATH": str(tmp_path)}))
    assert DATABASE in line and ("directory" in line or "not a file" in line)


@pytest.mark.integration
def test_an_unwritable_state_directory(tmp_path: Path, stopped_broker: dict[str, str], migrated_db: Path) -> None:
    (tmp_path / "plain-file").write_text("")
    line = one_line_failure(cli(tmp_path, "worker", env={
        **stopped_broker, "KUKURI_DATABASE_PATH": str(migrated_db), "KUKURI_STATE_DIR": "plain-file/state"}))
    assert STATE_DIR in line and "plain-file" in line


@pytest.mark.integration
def test_a_missing_events_file(tmp_path: Path, stopped_broker: dict[str, str]) -> None:
    line = one_line_failure(cli(tmp_path, "produce", "--file", "missing/events.jsonl", env=stopped_broker))
    assert "--file" in line and "missing/events.jsonl" in line


@pytest.mark.integration
@pytest.mark.parametrize(("config", "command", "named"), [
    ("[kafka\n", "top", "app.toml: invalid TOML"),
    ("[kafka]\npartitions = 0\n", "worker", "kafka.partitions: must be between 1 and 1024"),
    ("[kafka]\nbrokr = 'x'\n", "migrate", "kafka.brokr: unknown setting"),
    ("[database]\npath = 3\n", "produce --rate 1", "database.path: expected a string"),
])
def test_a_broken_config_file(tmp_path: Path, config: str, command: str, named: str) -> None:
    (tmp_path / "app.toml").write_text(config)
    line = one_line_failure(cli(tmp_path, *command.split(), "--config", "app.toml"))
    assert line.startswith(f"kukuri-trending: configuration error: {named}")


@pytest.mark.integration
def test_debug_log_level_adds_the_traceback(tmp_path: Path) -> None:
    done = cli(tmp_path, "top", "--log-level", "debug", env={"KUKURI_DATABASE_PATH": "missing.db"})
    assert done.returncode == 1
    assert "Traceback" in done.stderr and done.stderr.rstrip().endswith("kukuri-trending migrate`")
