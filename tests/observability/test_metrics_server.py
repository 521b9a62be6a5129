"""The /metrics endpoint, scraped over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from observability.metrics import job_metrics, stream_metrics
from observability.metrics_server import MetricsServer, start_metrics_server
from sinks.storage.snapshots import RunRecord
from tests.observability.exposition import parse

pytestmark = pytest.mark.integration


@pytest.fixture
async def served() -> AsyncIterator[tuple[MetricsServer, CollectorRegistry]]:
    registry = CollectorRegistry()
    server = await start_metrics_server(0, registry=registry)
    try:
        yield server, registry
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_scrape_returns_the_job_metrics_as_prometheus_text(served) -> None:
    server, registry = served
    job_metrics(registry=registry).record_success(
        RunRecord(1_731_229_200_000, "stream", 1_731_229_201_000, 1_731_229_205_123, 42, 0, 4_123)
    )
    stream_metrics(registry).add_events({("post", "counted"): 3})
    status, content_type, body = await get(server.url)
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    _, types, samples = parse(body)
    assert types["kukuri_trending_metrics_job_runs_total"] == "counter"
    assert samples["kukuri_trending_metrics_job_runs_total"] == 1
    assert samples["kukuri_trending_metrics_job_topics_upserted"] == 42
    assert samples["kukuri_trending_metrics_job_last_success_timestamp"] == 1_731_229_205_123
    assert samples['kukuri_trending_events_total{kind="post",result="counted"}'] == 3


async def test_binds_loopback_on_a_free_port(served) -> None:
    server, _ = served
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"


@pytest.mark.parametrize("path", ["/", "/metrics/", "/metricsx", "/healthz", "/api/trending/topics"])
async def test_every_other_path_is_404(served, path: str) -> None:
    server, _ = served
    status, _, body = await get(f"http://127.0.0.1:{server.port}{path}")
    assert status == 404
    assert "kukuri_trending" not in body


async def test_default_registry_is_served() -> None:
    job_metrics()  # registers on the process-wide registry, as the worker does
    server = await start_metrics_server(0)
    try:
        status, _, body = await get(server.url)
    finally:
        await server.stop()
    assert status == 200
    assert "kukuri_trending_metrics_job_runs_total" in parse(body)[1]


async def test_stop_closes_the_port(served) -> None:
    server, _ = served
    await server.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(server.url)


async def test_a_port_in_use_fails_to_start(served) -> None:
    server, _ = served
    with pytest.raises(OSError):
        await start_metrics_server(server.port, registry=CollectorRegistry())
