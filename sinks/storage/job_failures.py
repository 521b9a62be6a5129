"""The snapshot job's failure streak, kept in the app database so that it survives restarts.

One row per job, shared by every worker: a failed run of any worker adds one, the run that commits
a snapshot resets it, and the open incident (when its alert went out) is stored alongside, so an
alert and its recovery message go out once per incident however many workers or restarts see it.

A change reads the row, lets the caller decide, and writes the result under `BEGIN IMMEDIATE`, so
two workers deciding at the same moment take turns instead of both announcing the incident. A
decision that changes nothing writes nothing (the staleness check asks every 30 seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

import aiosqlite

from sinks.database import connect_writer
from sinks.storage.sql import transaction

SNAPSHOT_JOB: Final = "trending_metrics_job"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FailureStreak:
    """Failed runs since the last committed snapshot, and when the open incident started (ms)."""

    consecutive_failures: int = 0
    incident_started_ms: int | None = None
    last_error: str | None = None


class JobFailures:
    """The stored streak of one job. Owns its connection: decisions must not join a snapshot's
    transaction on the writer connection, nor wait for one."""

    def __init__(self, conn: aiosqlite.Connection, job: str = SNAPSHOT_JOB) -> None:
        self._conn = conn
        self.job = job

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_ms: int, job: str = SNAPSHOT_JOB) -> JobFailures:
        return cls(await connect_writer(path, busy_timeout_ms=busy_timeout_ms), job)

    async def close(self) -> None:
        await self._conn.close()

    async def read(self) -> FailureStreak:
        async with self._conn.execute(
            "SELECT consecutive_failures, incident_started_at, last_error FROM job_failures WHERE job = ?",
            (self.job,),
        ) as cursor:
            row = await cursor.fetchone()
        return FailureStreak() if row is None else FailureStreak(int(row[0]), row[1], row[2])

    async def update(self, decide: Callable[[FailureStreak], tuple[FailureStreak, T]]) -> T:
        """Apply `decide` (stored streak -> new streak, result) atomically; returns its result.

        `decide` may be called twice (once to see whether anything changes, once under the
        lock), so it must depend on nothing but its argument and the caller's own state.
        """
        current = await self.read()
        changed, result = decide(current)
        if changed == current:
            return result
        async with transaction(self._conn):
            current = await self.read()
            changed, result = decide(current)
            if changed != current:
                await self._conn.execute(
                    "INSERT INTO job_failures"
                    " (job, consecutive_failures, incident_started_at, last_error, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (job) DO UPDATE SET consecutive_failures = excluded.consecutive_failures,"
                    " incident_started_at = excluded.incident_started_at, last_error = excluded.last_error,"
                    " updated_at = excluded.updated_at",
                    (self.job, changed.consecutive_failures, changed.incident_started_ms, changed.last_error,
                     int(time.time() * 1000)),
                )
        return result
