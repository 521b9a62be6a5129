"""Send events to Kafka in batches: the public `EventProducer`, and the synthetic traffic of
`kukuri-trending produce` and `run` (which can also mirror its facts into the app database)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from aiokafka import AIOKafkaProducer

from producer.synthetic import Action, TrafficGenerator, delivery, topic_name
from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, upsert_topics, write_facts
from streams.events import Event, Kind, parse_event

DEFAULT_EVENTS_TOPIC: Final = "kukuri.trending.events"
# Unacknowledged sends held before `send` waits for the broker: bounds memory when a producer
# outruns the broker, while still letting aiokafka fill 64 KB batches.
MAX_IN_FLIGHT: Final = 10_000


@dataclass
class SendStats:
    sent: int = 0
    facts: int = 0
    seconds: float = 0.0


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=64 * 1024, acks="all")


@asynccontextmanager
async def running_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A started batching producer, closed on the way out even when it could not start
    (aiokafka keeps its connections and logs "Unclosed AIOKafkaProducer" otherwise)."""
    producer = new_producer(bootstrap)
    try:
        await producer.start()
        yield producer
    finally:
        await producer.stop()


async def send_records(producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) pairs and wait until the broker has every one of them."""
    futures = [await producer.send(topic, value=value, key=key) for key, value in records]
    await asyncio.gather(*futures)
    return len(futures)


class EventProducer:
    """Send kukuri facts to the events topic, validated by the same decoder the worker uses.

    Each helper builds one event, checks it (an invalid one raises `streams.events.InvalidEvent`
    naming the dead-letter reason the worker would give it, and nothing is sent), keys it by
    `topic_id` and hands it to the batching producer. `flush()` (and leaving the `async with`
    block) waits until the broker has acknowledged everything sent so far. A fact that belongs to
    several topics is sent once per topic, with the same `event_id`.

    `created_at` defaults to now. `bootstrap` is `host:port[,host:port]`.
    """

    def __init__(self, bootstrap: str, topic: str = DEFAULT_EVENTS_TOPIC, *, max_clock_skew_seconds: int = 300) -> None:
        self.topic = topic
        self._producer = new_producer(bootstrap)
        self._skew_ms = max_clock_skew_seconds * 1000
        self._in_flight: list[asyncio.Future[Any]] = []
        self.sent = 0

    async def start(self) -> None:
        try:
            await self._producer.start()
        except BaseException:
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        """Wait for outstanding acknowledgements, then close the connection."""
        try:
            await self.flush()
        finally:
            await self._producer.stop()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def post(self, *, event_id: str, topic_id: str, author: str, created_at: int | None = None) -> Event:
        return await self._emit("post", event_id, topic_id, author, None, created_at)

    async def reply(
        self, *, event_id: str, topic_id: str, author: str, parent_id: str, created_at: int | None = None
    ) -> Event:
        """A reply to the post `parent_id` (it counts as a post too)."""
        return await self._emit("reply", event_id, topic_id, author, parent_id, created_at)

    async def boost(
        self, *, event_id: str, topic_id: str, author: str, post_id: str, created_at: int | None = None
    ) -> Event:
        return await self._emit("boost", event_id, topic_id, author, post_id, created_at)

    async def bookmark(
        self, *, event_id: str, topic_id: str, author: str, post_id: str, created_at: int | None = None
    ) -> Event:
        return await self._emit("bookmark", event_id, topic_id, author, post_id, created_at)

    async def delete(
        self, *, event_id: str, topic_id: str, author: str, target_id: str, created_at: int | None = None
    ) -> Event:
        """Retract the fact `target_id` (of any kind) in `topic_id`; it may be sent before its target."""
        return await self._emit("delete", event_id, topic_id, author, target_id, created_at)

    async def send(self, event: Event) -> None:
        """Queue an already validated event (see `streams.events.parse_event`)."""
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            await self.flush()
        self._in_flight.append(await self._producer.send(self.topic, value=event.to_json(), key=event.key()))

    async def flush(self) -> int:
        """Wait until the broker has acknowledged every event sent so far; returns how many that was."""
        pending, self._in_flight = self._in_flight, []
        await asyncio.gather(*pending)
        self.sent += len(pending)
        return len(pending)

    async def _emit(
        self, kind: Kind, event_id: str, topic_id: str, author: str, target_id: str | None, created_at: int | None
    ) -> Event:
        now = int(time.time() * 1000)
        body: dict[str, Any] = {
            "v": 1, "event_id": event_id, "kind": kind, "topic_id": topic_id, "author": author,
            "created_at": now if created_at is None else created_at,
        }
        if target_id is not None:
            body["target_id"] = target_id
        event = parse_event(json.dumps(body).encode(), now_ms=now, max_skew_ms=self._skew_ms)
        await self.send(event)
        return event


class SyntheticTraffic:
    """Generates actions, sends their events with duplicates and reordering, and mirrors facts to the app DB."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, generator: TrafficGenerator,
                 app_db: Path | None = None, seed: int = 1) -> None:
        self.producer = producer
        self.topic = topic
        self.generator = generator
        self.app_db = app_db
        self.rng = random.Random(seed)
        self.stats = SendStats()

    async def prepare_app_db(self) -> None:
        if self.app_db is None:
            return
        conn = await connect_writer(self.app_db)
        try:
            await ensure_kukuri_tables(conn)
            topics = [(t, topic_name(int(t.split("-")[1])), f"Posts about {topic_name(int(t.split('-')[1]))}")
                      for t in self.generator.topics]
            await conn.execute("BEGIN")
            await upsert_topics(conn, topics, int(time.time() * 1000))
            await conn.execute("COMMIT")
        finally:
            await conn.close()

    async def send_actions(self, actions: list[Action]) -> None:
        if self.app_db is not None:
            conn = await connect_writer(self.app_db)
            try:
                await write_facts(conn, [e for a in actions for e in a.events])
            finally:
                await conn.close()
        events = list(delivery(iter(actions), self.rng))
        self.stats.sent += await send_records(self.producer, self.topic, ((e.key(), e.to_json()) for e in events))
        self.stats.facts += len(actions)

    async def history(self, count: int, hours: float, now_ms: int) -> None:
        """Back-dated traffic over the last `hours`, sent as fast as the broker takes it."""
        start = now_ms - int(hours * 3_600_000)
        batch: list[Action] = []
        for action in self.generator.actions(start, now_ms, count):
            batch.append(action)
            if len(batch) >= 2000:
                await self.send_actions(batch)
                batch = []
        if batch:
            await self.send_actions(batch)

    async def live(self, rate: float, duration: float | None) -> None:
        """About `rate` events per second, stamped with the current time (some a little late)."""
        started = time.monotonic()
        tick = 0.2
        debt = 0.0
        while duration is None or time.monotonic() - started < duration:
            began = time.monotonic()
            debt += rate * tick
            n = int(debt)
            debt -= n
            now = int(time.time() * 1000)
            actions = [self.generator.action(now - int(self.rng.random() ** 4 * 120_000)) for _ in range(n)]
            if self.rng.random() < 0.01:
                self.generator.heat_up()
            if actions:
                await self.send_actions(actions)
            await asyncio.sleep(max(tick - (time.monotonic() - began), 0))
        self.stats.seconds = time.monotonic() - started

