"""Runtime file: path, atomic round-trip and staleness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from broker.embedded import BrokerError, EmbeddedBroker
from broker.runtime import RuntimeInfo, read_runtime, remove_runtime, runtime_path, write_runtime


def _is_zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")


def test_runtime_path_sits_beside_the_database(tmp_path: Path) -> None:
    assert runtime_path(tmp_path / "kukuri.db") == tmp_path / "kukuri.runtime.json"
    assert runtime_path(tmp_path / "data") == tmp_path / "data.runtime.json"


def test_round_trip(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    write_runtime(path, broker_url="kafka://127.0.0.1:4242", pid=os.getpid(), api_url="http://127.0.0.1:8080")
    assert read_runtime(path) == RuntimeInfo("kafka://127.0.0.1:4242", os.getpid(), "http://127.0.0.1:8080")
    write_runtime(path, broker_url="kafka://127.0.0.1:4343", pid=os.getpid())
    assert read_runtime(path) == RuntimeInfo("kafka://127.0.0.1:4343", os.getpid(), None)
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temp file left behind"


def test_missing_file_reads_as_none_and_remove_is_idempotent(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    assert read_runtime(path) is None
    write_runtime(path, broker_url="kafka://127.0.0.1:4242", pid=os.getpid())
    remove_runtime(path)
    assert not path.exists()
    remove_runtime(path)


def test_corrupt_file_is_an_error(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    path.write_text("{not json")
    with pytest.raises(BrokerError, match="unreadable runtime file"):
        read_runtime(path)


@pytest.mark.integration
def test_dead_pid_reads_as_none(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    write_runtime(path, broker_url="kafka://127.0.0.1:4242", pid=int(child.stdout))
    assert read_runtime(path) is None


@pytest.mark.integration
def test_unreaped_child_reads_as_none(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as child:
        write_runtime(path, broker_url="kafka://127.0.0.1:4242", pid=child.pid)
        assert read_runtime(path) is not None
        assert child.stdin is not None
        child.stdin.close()
        deadline = time.monotonic() + 5
        while not _is_zombie(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _is_zombie(child.pid)
        assert read_runtime(path) is None, "a zombie is not a live broker"


@pytest.mark.integration
def test_reused_pid_reads_as_none(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    write_runtime(path, broker_url="kafka://127.0.0.1:4242", pid=os.getpid())
    recorded = json.loads(path.read_text())
    assert recorded["pid_start_time"] is not None
    recorded["pid_start_time"] += 1
    path.write_text(json.dumps(recorded))
    assert read_runtime(path) is None, "same pid, different process start time: the pid was reused"


@pytest.mark.integration
async def test_real_broker_runtime_goes_stale_when_it_stops(tmp_path: Path) -> None:
    path = runtime_path(tmp_path / "kukuri.db")
    async with EmbeddedBroker() as broker:
        assert broker.pid is not None
        write_runtime(path, broker_url=broker.url, pid=broker.pid)
        assert read_runtime(path) == RuntimeInfo(broker.url, broker.pid)
    assert read_runtime(path) is None
