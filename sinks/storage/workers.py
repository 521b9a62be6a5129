"""`trending_workers` (who is running) and `materialize_acks` (which worker answered a request)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from typing import Any

import aiosqlite

from sinks.storage.sql import scalar


async def announce_worker(
    conn: aiosqlite.Connection, worker_id: str, *, started_at: int, now: int, partitions: Sequence[int]
) -> None:
    """Insert or refresh this process's heartbeat row (host and pid are this process's)."""
    await conn.execute(
        "INSERT INTO trending_workers (worker_id, host, pid, started_at, heartbeat_at, partitions)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (worker_id) DO UPDATE SET"
        " heartbeat_at = excluded.heartbeat_at, partitions = excluded.partitions",
        (worker_id, socket.gethostname(), os.getpid(), started_at, now, json.dumps(list(partitions))),
    )


async def remove_worker(conn: aiosqlite.Connection, worker_id: str) -> None:
    await conn.execute("DELETE FROM trending_workers WHERE worker_id = ?", (worker_id,))


async def live_workers(conn: aiosqlite.Connection, *, heartbeat_since: int) -> int:
    """How many workers sent a heartbeat at or after `heartbeat_since` (ms)."""
    return int(await scalar(conn, "SELECT COUNT(*) FROM trending_workers WHERE heartbeat_at >= ?", (heartbeat_since,)))


async def run_answering(
    conn: aiosqlite.Connection, request_id: str, boundary: int, partitions: int
) -> tuple[int, int, int, int] | None:
    """(window_end, topics, finished_at, duration_ms) of the run of `boundary` once all `partitions`
    acknowledged `request_id`, else None.

    The transaction that writes the last acknowledgement also promotes and records the snapshot,
    so a complete set of acknowledgements means the run is there: no clock is compared.
    """
    async with conn.execute(
        "SELECT r.window_end, r.topics_upserted, r.finished_at, r.duration_ms FROM trending_runs r"
        " JOIN (SELECT COUNT(*) AS parts FROM materialize_acks WHERE request_id = ?) a"
        " WHERE r.window_end = ? AND a.parts = ?",
        (request_id, boundary, partitions),
    ) as cursor:
        row: Any = await cursor.fetchone()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]), int(row[3]))
