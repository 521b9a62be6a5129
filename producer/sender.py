"""Send events to Kafka in batches (and optionally mirror the facts into the app database)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer

from producer.synthetic import Action, TrafficGenerator, delivery, topic_name
from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, upsert_topics, write_facts


@dataclass
class SendStats:
    sent: int = 0
    facts: int = 0
    seconds: float = 0.0


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=64 * 1024, acks="all")


async def send_records(producer: AIOKafkaProducer, topic: str, records: Iterable[tuple[bytes | None, bytes]]) -> int:
    """Send (key, value) pairs and wait until the broker has every one of them."""
    futures = [await producer.send(topic, value=value, key=key) for key, value in records]
    await asyncio.gather(*futures)
    return len(futures)


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

