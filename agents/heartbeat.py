"""Workers announce themselves in `trending_workers`, so `materialize` can tell whether one is running."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import aiosqlite
import mode

from config.settings import Settings
from observability.logs import log_event
from sinks.database import connect_writer, file_identity
from sinks.storage.workers import announce_worker, remove_worker

log = logging.getLogger("kukuri_trending.worker")

HEARTBEAT_SECONDS = 2.0
ALIVE_WITHIN_MS = 10_000


class HeartbeatService(mode.Service):
    def __init__(self, settings: Settings, worker_id: str, partitions: Callable[[], list[int]], **kwargs: Any):
        super().__init__(**kwargs)
        self.settings = settings
        self.worker_id = worker_id
        self.partitions = partitions
        self.started_at = int(time.time() * 1000)

    @mode.Service.task
    async def _beat(self) -> None:
        path = self.settings.database.path
        conn = await connect_writer(path)
        opened = file_identity(path)
        try:
            while not self.should_stop:
                try:
                    if file_identity(path) != opened:  # deleted, replaced or restored under us
                        await conn.close()
                        conn = await connect_writer(path, create=False)
                        opened = file_identity(path)
                    await self._write(conn)
                except sqlite3.Error as exc:
                    # A locked database is the sink's problem to report; a missed heartbeat is not.
                    log_event(log, "trending_worker.heartbeat_failed", level=logging.WARNING, error=repr(exc))
                await self.sleep(HEARTBEAT_SECONDS)
        finally:
            with contextlib.suppress(sqlite3.Error):
                await remove_worker(conn, self.worker_id)
            await conn.close()

    async def _write(self, conn: aiosqlite.Connection) -> None:
        await announce_worker(conn, self.worker_id, started_at=self.started_at, now=int(time.time() * 1000),
                              partitions=self.partitions())
