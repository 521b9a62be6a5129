"""Workers announce themselves in `trending_workers`, so `materialize` can tell whether one is running."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import mode

from config.settings import Settings
from sinks.database import connect_writer

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
        conn = await connect_writer(self.settings.database.path)
        try:
            while not self.should_stop:
                await conn.execute(
                    "INSERT INTO trending_workers (worker_id, host, pid, started_at, heartbeat_at, partitions)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (worker_id) DO UPDATE SET"
                    " heartbeat_at = excluded.heartbeat_at, partitions = excluded.partitions",
                    (self.worker_id, socket.gethostname(), os.getpid(), self.started_at,
                     int(time.time() * 1000), json.dumps(self.partitions())),
                )
                await self.sleep(HEARTBEAT_SECONDS)
        finally:
            await conn.execute("DELETE FROM trending_workers WHERE worker_id = ?", (self.worker_id,))
            await conn.close()
