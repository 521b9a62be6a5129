"""Services that ride along with a worker: the Prometheus endpoint, the read API, demo traffic."""

from __future__ import annotations

import logging
from typing import Any

import mode

from config.settings import Settings
from observability.logs import log_event
from observability.metrics_server import start_metrics_server
from producer.sender import SyntheticTraffic, new_producer
from producer.synthetic import TrafficGenerator

log = logging.getLogger("kukuri_trending.worker")


class MetricsEndpoint(mode.Service):
    """`/metrics` on <metrics.bind_host, 127.0.0.1 by default>:<prometheus_port>."""

    def __init__(self, port: int, host: str = "127.0.0.1", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.port = port
        self.host = host
        self._server: Any = None

    async def on_start(self) -> None:
        self._server = await start_metrics_server(self.port, self.host)
        log_event(log, "trending_metrics.endpoint", url=self._server.url)

    async def on_stop(self) -> None:
        if self._server is not None:
            await self._server.stop()


class ApiEndpoint(mode.Service):
    """The read API and dashboard, served from the worker's process by `run`."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.server: Any = None

    async def on_start(self) -> None:
        from api.server import start_api_server

        self.server = await start_api_server(self.settings)
        log_event(log, "trending_api.listening", url=self.server.url)

    async def on_stop(self) -> None:
        if self.server is not None:
            await self.server.stop()


class DemoTraffic(mode.Service):
    """Live synthetic traffic for the demo, mirrored into the app database as kukuri would write it."""

    def __init__(self, settings: Settings, bootstrap: str, rate: float, topics: int, seed: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.settings = settings
        self.bootstrap = bootstrap
        self.rate = rate
        self.generator = TrafficGenerator(topics, seed=seed)
        self.seed = seed

    @mode.Service.task
    async def _send(self) -> None:
        producer = new_producer(self.bootstrap)
        await producer.start()
        try:
            traffic = SyntheticTraffic(producer, self.settings.kafka.events_topic, self.generator,
                                       app_db=self.settings.database.path, seed=self.seed)
            await traffic.prepare_app_db()
            await traffic.live(self.rate, None)
        finally:
            await producer.stop()
