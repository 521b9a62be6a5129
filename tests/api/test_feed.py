"""GET /api/trending/stream: the live feed over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from config.settings import ApiSettings
from tests.api.conftest import Api, serving
from tests.api.support import assert_feed_message, boundary, commit, create_db, execute, row, settings_for

pytestmark = pytest.mark.integration


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> dict[str, Any]:
    message = await ws.receive(timeout=timeout)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    body = json.loads(message.data)
    assert_feed_message(body)
    return body


async def test_sends_the_current_snapshot_on_connect(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e, [row("a", e, 2.0), row("b", e, 1.0)])
    topics = await api.get("/api/trending/topics")

    async with api.session.ws_connect(f"{api.server.url}/api/trending/stream") as ws:
        first = await receive(ws)

    assert first == {"type": "snapshot", **topics}


async def test_pushes_each_new_commit_within_a_second_to_every_client(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e - 300_000, [row("a", e - 300_000, 2.0), row("b", e - 300_000, 1.0)])
    clients = [await api.session.ws_connect(f"{api.server.url}/api/trending/stream") for _ in range(25)]
    try:
        for ws in clients:
            assert (await receive(ws))["generated_at"] == e - 300_000

        committed = time.monotonic()
        await commit(api.db, e, [row("a", e, 1.0), row("b", e, 3.0)])
        updates = await asyncio.gather(*(receive(ws) for ws in clients))
        delay = time.monotonic() - committed
    finally:
        for ws in clients:
            await ws.close()

    assert delay < 1.0
    for update in updates:
        assert update["generated_at"] == e
        assert [t["topic_id"] for t in update["topics"]] == ["b", "a"]
        assert [t["score_change"] for t in update["topics"]] == [2.0, -1.0]
        assert [t["previous_rank"] for t in update["topics"]] == [2, 1]


async def test_a_limit_message_resends_the_snapshot_at_that_limit(api: Api) -> None:
    e = boundary()
    ids = [f"t{i:02}" for i in range(30)]
    await create_db(api.db, ids)
    await commit(api.db, e, [row(t, e, 100.0 - i) for i, t in enumerate(ids)])

    async with api.session.ws_connect(f"{api.server.url}/api/trending/stream?limit=3") as ws:
        assert len((await receive(ws))["topics"]) == 3
        await ws.send_json({"limit": 25})
        resent = await receive(ws)
        await commit(api.db, e + 300_000, [row(t, e + 300_000, float(i)) for i, t in enumerate(ids)])
        pushed = await receive(ws)

    assert [t["topic_id"] for t in resent["topics"]] == ids[:25]
    assert [t["topic_id"] for t in pushed["topics"]] == ids[::-1][:25]


@pytest.mark.parametrize("message", ['{"limit": 0}', '{"limit": 101}', '{"limit": "5"}', '{"limit": true}',
                                     '{"limit": 5, "x": 1}', "[]", "not json"])
async def test_a_bad_message_gets_an_error_and_the_feed_goes_on(api: Api, message: str) -> None:
    e = boundary()
    await create_db(api.db, ["a"])
    await commit(api.db, e, [row("a", e, 1.0)])

    async with api.session.ws_connect(f"{api.server.url}/api/trending/stream") as ws:
        await receive(ws)
        await ws.send_str(message)
        error = await receive(ws)
        await commit(api.db, e + 300_000, [row("a", e + 300_000, 2.0)])
        update = await receive(ws)

    assert error["type"] == "error"
    assert error["error"]["code"] in {"invalid_limit", "invalid_message"}
    assert update["generated_at"] == e + 300_000


async def test_a_bad_limit_in_the_url_refuses_the_upgrade_with_400(api: Api) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await api.session.ws_connect(f"{api.server.url}/api/trending/stream?limit=0")

    assert refused.value.status == 400


async def test_a_plain_get_of_the_feed_is_a_400_json_error(api: Api) -> None:
    body = await api.get("/api/trending/stream", status=400)

    assert body["error"]["code"] == "bad_request"


async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_up(api: Api) -> None:
    e = boundary()
    ids = [f"topic-{i:03}" for i in range(100)]
    # Big messages (100 topics with long descriptions) fill the slow client's socket buffers quickly.
    await create_db(api.db, ids, descriptions={t: "x" * 8000 for t in ids})
    await commit(api.db, e, [row(t, e, 0.0) for t in ids])
    url = f"{api.server.url}/api/trending/stream?limit=100"
    async with api.session.ws_connect(url) as fast, api.session.ws_connect(url) as slow:
        await receive(fast)
        delays = []
        for step in range(1, 60):
            committed = time.monotonic()
            await commit(api.db, e, [row(t, e, float(step)) for t in ids], source="reconcile")
            while (await receive(fast))["topics"][0]["trending_score"] != step:
                pass
            delays.append(time.monotonic() - committed)
            if api.server.feed.client_count == 1:
                break
        assert api.server.feed.client_count == 1, "the slow client was never dropped"
        # Reading now, the slow client finds its backlog and then the end of the connection.
        ends: list[aiohttp.WSMsgType] = []
        while not ends:
            message = await slow.receive(timeout=5)
            if message.type is not aiohttp.WSMsgType.TEXT:
                ends.append(message.type)

    assert ends[0] in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}
    assert max(delays) < 1.0


async def test_a_client_joining_when_nothing_can_be_served_is_told_why(api: Api) -> None:
    await create_db(api.db, ["a"])
    await commit(api.db, boundary(60), [row("a", boundary(60), 1.0)])
    # Drop both the snapshots' run records and the app's facts: there is nothing honest to serve.
    await execute(api.db, "DELETE FROM trending_runs", "DROP TABLE events")
    url = f"{api.server.url}/api/trending/stream"
    async with api.session.ws_connect(url) as first:
        assert (await receive(first))["error"]["code"] == "metrics_unavailable"
        async with api.session.ws_connect(url) as second:
            assert (await receive(second))["error"]["code"] == "metrics_unavailable"


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Api]:
    """A real server whose feed holds at most 3 clients, takes 64-byte messages and pings every 0.2 s,
    configured through the `[api]` settings."""
    limits = ApiSettings(feed_max_clients=3, feed_max_message_bytes=64, feed_heartbeat_seconds=0.2)
    async with serving(replace(settings_for(tmp_path / "kukuri.db"), api=limits)) as served:
        yield served


async def test_clients_past_the_cap_are_closed_with_1013_and_a_freed_slot_is_reused(capped: Api) -> None:
    e = boundary()
    await create_db(capped.db, ["a"])
    await commit(capped.db, e, [row("a", e, 0.1 + 0.2)])
    url = f"{capped.server.url}/api/trending/stream"
    admitted = [await capped.session.ws_connect(url) for _ in range(3)]
    try:
        for ws in admitted:
            assert (await receive(ws))["generated_at"] == e
        refused = [await capped.session.ws_connect(url) for _ in range(4)]
        for ws in refused:
            closing = await ws.receive(timeout=2)
            assert closing.type is aiohttp.WSMsgType.CLOSE
            assert (closing.data, closing.extra) == (aiohttp.WSCloseCode.TRY_AGAIN_LATER, "feed is full, try again later")
        assert capped.server.feed.client_count == 3

        await admitted.pop().close()
        async with capped.session.ws_connect(url) as again:
            snapshot = await receive(again)
    finally:
        for ws in admitted:
            await ws.close()

    assert snapshot["topics"][0]["trending_score"] == 0.3


async def test_a_message_over_the_size_cap_closes_with_1009(capped: Api) -> None:
    e = boundary()
    await create_db(capped.db, ["a"])
    await commit(capped.db, e, [row("a", e, 1.0)])
    async with capped.session.ws_connect(f"{capped.server.url}/api/trending/stream") as ws:
        await receive(ws)
        await ws.send_str('{"limit": 1' + " " * 100 + "}")
        closing = await ws.receive(timeout=2)

    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG


async def test_a_client_that_does_not_answer_pings_is_dropped(capped: Api) -> None:
    e = boundary()
    await create_db(capped.db, ["a"])
    await commit(capped.db, e, [row("a", e, 1.0)])
    # autoping=False: the client neither answers pings nor sends anything.
    async with capped.session.ws_connect(f"{capped.server.url}/api/trending/stream", autoping=False) as ws:
        await receive(ws)
        deadline = time.monotonic() + 3
        while capped.server.feed.client_count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert capped.server.feed.client_count == 0
        kinds: set[aiohttp.WSMsgType] = set()
        while not kinds & {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR}:
            kinds.add((await ws.receive(timeout=2)).type)
