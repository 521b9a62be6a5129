"""Serve a Prometheus registry at `http://<host>:<port>/metrics` and nothing else.

kukuri binds its exporter to 127.0.0.1 so the numbers are never published by accident; that
is the default here too. Only a deployment that puts the worker in its own network
namespace (a container scraped by Prometheus over the compose network) passes another host.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class MetricsServer:
    """A running endpoint; `port` is the bound one (useful when 0 asked for a free port)."""

    host: str
    port: int
    _runner: web.AppRunner

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{METRICS_PATH}"

    async def stop(self) -> None:
        await self._runner.cleanup()


def _app(registry: CollectorRegistry) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        # Always the 0.0.4 text format the contract names, whatever the scraper's Accept header
        # offers: it is what kukuri's exporter serves and every Prometheus version parses.
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})

    app = web.Application()
    app.router.add_get(METRICS_PATH, metrics)
    return app


async def start_metrics_server(
    port: int, host: str = "127.0.0.1", *, registry: CollectorRegistry = REGISTRY
) -> MetricsServer:
    """Start serving `registry`; port 0 picks a free port. Every other path answers 404."""
    runner = web.AppRunner(_app(registry), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return MetricsServer(host=host, port=bound_port, _runner=runner)
