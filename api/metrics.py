"""Request metrics of the read API (Prometheus), recorded by one aiohttp middleware.

Labelled by route pattern, not by raw path, so a scan of random URLs cannot create new series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class ApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "kukuri_trending_api_requests_total", "Read API requests by route and status",
            ["route", "status"], registry=registry,
        )
        self.latency = Histogram(
            "kukuri_trending_api_request_duration_seconds", "Read API request latency by route",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry,
        )

    def middleware(self) -> Middleware:
        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                info = request.match_info.route.resource
                route = info.canonical if info is not None else "unmatched"
                self.requests.labels(route, str(status)).inc()
                self.latency.labels(route).observe(time.perf_counter() - started)

        return record


_instances: dict[int, ApiMetrics] = {}


def api_metrics(registry: CollectorRegistry = REGISTRY) -> ApiMetrics:
    """One instance per registry: registering the same names twice would raise."""
    key = id(registry)
    if key not in _instances:
        _instances[key] = ApiMetrics(registry)
    return _instances[key]
