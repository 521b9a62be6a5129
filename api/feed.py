"""The live feed behind `GET /api/trending/stream`: every new snapshot, pushed to every client.

One poller per process asks the database every `poll_interval` seconds whether the answer could
have changed (`TrendingReader.feed_version`: the newest `trending_runs` row, staleness, the fallback
boundary). Polling the database instead of hooking the writer works whether the snapshot is
committed by this process or by a worker elsewhere. A changed answer is built once, at the largest
limit, and each client gets its own prefix of it.

Each client has a small bounded queue drained by its own sender task. A client that does not keep up
fills its queue and is dropped (close code 1013, then the connection is aborted) instead of making
the poller or the other clients wait for it.

What one process will hold is bounded: at most `max_clients` connections (one more is accepted and
closed at once with 1013, try again later), client messages of at most `max_message_bytes` (a
larger one closes the connection with 1009, message too big), and no dead connections: the server
pings every `heartbeat_seconds` and drops a client that has not answered within half of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from api.errors import ApiError
from api.models import TrendingTopics
from api.params import DEFAULT_LIMIT, MAX_LIMIT, feed_limit
from api.queries import FeedVersion, TrendingReader
from observability.logs import log_event

log = logging.getLogger("kukuri_trending.api.feed")

# Client messages are `{"limit": N}`; anything larger is not one.
MAX_CLIENT_MESSAGE = 1024
DEFAULT_MAX_CLIENTS = 1000
DEFAULT_HEARTBEAT_SECONDS = 30.0
FULL_REASON = b"feed is full, try again later"


@dataclass(eq=False)
class _Client:
    ws: web.WebSocketResponse
    transport: asyncio.BaseTransport | None
    queue: asyncio.Queue[str]
    limit: int = DEFAULT_LIMIT
    sender: asyncio.Task[None] | None = field(default=None)


class SnapshotFeed:
    def __init__(
        self,
        reader: TrendingReader,
        *,
        poll_interval: float = 0.2,
        queue_size: int = 8,
        max_clients: int = DEFAULT_MAX_CLIENTS,
        max_message_bytes: int = MAX_CLIENT_MESSAGE,
        heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
    ) -> None:
        self._reader = reader
        self._poll_interval = poll_interval
        self._queue_size = queue_size
        self._max_clients = max_clients
        self._max_message_bytes = max_message_bytes
        self._heartbeat = heartbeat_seconds
        self._clients: set[_Client] = set()
        self._latest: TrendingTopics | None = None
        self._problem: ApiError | None = None  # why there is no snapshot to send, if there is none
        self._poller: asyncio.Task[None] | None = None
        self._kicks: set[asyncio.Task[None]] = set()

    @property
    def client_count(self) -> int:
        return len(self._clients)

    async def handle(self, request: web.Request, limit: int = DEFAULT_LIMIT) -> web.WebSocketResponse:
        """The WebSocket handler: subscribe, answer `{"limit": N}` messages, unsubscribe on close."""
        ws = web.WebSocketResponse(heartbeat=self._heartbeat, max_msg_size=self._max_message_bytes)
        await ws.prepare(request)
        if len(self._clients) >= self._max_clients:
            # Upgraded first, so that a browser sees the close code; checked and joined with no await
            # in between, so concurrent handshakes cannot overshoot the cap.
            log_event(log, "trending_api.feed_full", logging.WARNING, clients=len(self._clients))
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=FULL_REASON)
            return ws
        client = _Client(ws, request.transport, asyncio.Queue(self._queue_size), limit)
        client.sender = asyncio.create_task(self._send(client), name="trending-feed-sender")
        self._join(client)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_message(client, message.data)
                elif message.type is WSMsgType.BINARY:
                    self._error(client, ApiError(400, "invalid_message", "send text frames with JSON"))
                else:
                    break
        finally:
            self._leave(client)
            client.sender.cancel()
            await asyncio.gather(client.sender, return_exceptions=True)
        return ws

    async def close(self) -> None:
        """Stop polling and say goodbye to every client (close code 1001, going away)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        clients, self._clients = list(self._clients), set()
        for client in clients:
            await _close(client, WSCloseCode.GOING_AWAY, b"server shutdown")
        await asyncio.gather(*self._kicks, return_exceptions=True)

    def _join(self, client: _Client) -> None:
        self._clients.add(client)
        if self._latest is not None:
            self._offer(client, _snapshot_message(self._latest, client.limit))
        elif self._problem is not None:
            self._error(client, self._problem)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="trending-feed-poller")

    def _leave(self, client: _Client) -> None:
        self._clients.discard(client)

    def _on_message(self, client: _Client, text: str) -> None:
        try:
            client.limit = feed_limit(text)
        except ApiError as exc:
            self._error(client, exc)
            return
        if self._latest is not None:
            self._offer(client, _snapshot_message(self._latest, client.limit))

    def _error(self, client: _Client, exc: ApiError) -> None:
        self._offer(client, _dumps({"type": "error", **exc.body()}))

    def _offer(self, client: _Client, text: str) -> None:
        if client not in self._clients:
            return
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        log_event(log, "trending_api.feed_client_dropped", logging.WARNING, queued=client.queue.qsize())
        self._leave(client)
        if client.sender is not None:
            client.sender.cancel()
        kick = asyncio.create_task(_close(client, WSCloseCode.TRY_AGAIN_LATER, b"client too slow"))
        self._kicks.add(kick)
        kick.add_done_callback(self._kicks.discard)

    def _publish(self, result: TrendingTopics) -> None:
        self._latest, self._problem = result, None
        messages: dict[int, str] = {}
        for client in list(self._clients):
            if client.limit not in messages:
                messages[client.limit] = _snapshot_message(result, client.limit)
            self._offer(client, messages[client.limit])

    async def _poll(self) -> None:
        seen: FeedVersion | None = None
        last_problem = ""
        try:
            while self._clients:
                try:
                    version = await self._reader.feed_version()
                    if version != seen:
                        result = await self._reader.topics(MAX_LIMIT)
                        seen = version
                        if result != self._latest:
                            self._publish(result)
                    last_problem = ""
                except ApiError as exc:
                    # Nothing can be served for this version (no snapshot, no app database): say so
                    # once, and try again when the version changes.
                    seen = version
                    self._latest, self._problem = None, exc
                    for client in list(self._clients):
                        self._error(client, exc)
                except Exception as exc:  # a database hiccup: keep polling, log each new kind once
                    problem = f"{type(exc).__name__}: {exc}"
                    if problem != last_problem:
                        log_event(log, "trending_api.feed_poll_failed", logging.WARNING, error=problem)
                        last_problem = problem
                await asyncio.sleep(self._poll_interval)
        finally:
            # A later first client must not be handed a snapshot from before the pause.
            self._latest, self._problem = None, None

    async def _send(self, client: _Client) -> None:
        while True:
            text = await client.queue.get()
            await client.ws.send_str(text)


async def _close(client: _Client, code: WSCloseCode, reason: bytes) -> None:
    """Send a close frame and give the client a second to answer it; then abort the connection, since
    a client that stopped reading would otherwise keep its unsent backlog (and socket) alive forever."""
    if client.sender is not None:
        client.sender.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.ws.close(code=code, message=reason, drain=False), 1.0)
    if isinstance(client.transport, asyncio.WriteTransport):
        client.transport.abort()


def _snapshot_message(result: TrendingTopics, limit: int) -> str:
    return _dumps({"type": "snapshot", **result.head(limit).to_dict()})


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
