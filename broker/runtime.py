"""Runtime file through which other CLI commands find the broker that `kukuri-trending run` started.

It lives beside the database (`kukuri.db` -> `kukuri.runtime.json`) and names the owning process.
A file whose process is gone is stale and reads as None.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from broker.embedded import BrokerError


@dataclass(frozen=True)
class RuntimeInfo:
    """What `run` recorded; `pid` is the process whose liveness keeps the record valid."""

    broker_url: str
    pid: int
    api_url: str | None = None


def runtime_path(database_path: Path) -> Path:
    """The runtime file belonging to a database: same directory and stem, `.runtime.json` suffix."""
    return database_path.with_suffix(".runtime.json")


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, kernel start time) of `pid` from /proc on Linux; None where that is unavailable.

    The start time tells a reused pid from the process that was recorded.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; the fields after it are plain.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _alive(pid: int, recorded_start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    # Z/X: exited but not yet reaped by its parent.
    return state not in ("Z", "X") and recorded_start in (None, start)


def write_runtime(path: Path, *, broker_url: str, pid: int, api_url: str | None = None) -> None:
    """Write the file atomically, so a reader sees either the old or the new content, never a mix."""
    stat = _proc_stat(pid)
    start_time = stat[1] if stat else None
    record = {"broker_url": broker_url, "pid": pid, "api_url": api_url, "pid_start_time": start_time}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as tmp_file:
            json.dump(record, tmp_file)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_runtime(path: Path) -> RuntimeInfo | None:
    """The recorded broker, or None when there is no file or its process is no longer alive.

    Raises BrokerError for a file that is not a runtime file; it is never written half-way.
    """
    try:
        raw = json.loads(path.read_text())
        info = RuntimeInfo(broker_url=str(raw["broker_url"]), pid=int(raw["pid"]), api_url=raw.get("api_url"))
        start_time = raw.get("pid_start_time")
        if info.pid <= 0:
            raise ValueError(f"invalid pid {info.pid}")
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BrokerError(f"unreadable runtime file {path} ({exc!r}); delete it if no broker runs") from exc
    return info if _alive(info.pid, start_time) else None


def remove_runtime(path: Path) -> None:
    """Delete the file; a missing file is fine."""
    path.unlink(missing_ok=True)
