"""Read facts back out of kukuri's tables, to rebuild window state without Kafka.

Used when a partition arrives with no usable history on the broker (an embedded broker that
restarted empty, or retention that already removed the start of the topic). Facts are streamed in
pages through a read-only connection and folded into the partition's state exactly as events from
Kafka would be; retracted rows are loaded as retracted facts, so a later replay of the original
event from Kafka still counts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiokafka.partitioner import murmur2

from appdb.facts import topic_facts_cte
from config.settings import Settings
from sinks.database import connect_reader
from streams.aggregation import PartitionState
from streams.events import Event, Kind

log = logging.getLogger("kukuri_trending.app_facts")

# Every fact and topic since :lo, retracted ones included: they are loaded as retracted, so a
# later replay of the original event from Kafka cannot revive them.
FACTS_SQL = (
    f"WITH {topic_facts_cte(bounded=False, live_only=False)}\n"
    "SELECT event_id, topic_id, kind, author, created_at, retracted, target FROM app_facts"
)


def partition_of(topic_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a topic's key."""
    return (murmur2(topic_id.encode()) & 0x7FFFFFFF) % partitions


async def app_facts(settings: Settings, since: int) -> AsyncIterator[tuple[Event, bool]]:
    """(event, retracted) for every fact created at or after `since`."""
    conn = await connect_reader(settings.database.path)
    try:
        async with conn.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
            " AND name IN ('events', 'event_topics', 'bookmarks')"
        ) as cursor:
            (tables,) = await cursor.fetchone()  # type: ignore[misc]
        if tables < 3:
            return
        async with conn.execute(FACTS_SQL, {"lo": since}) as cursor:
            while rows := await cursor.fetchmany(5000):
                for event_id, topic_id, kind, author, created_at, retracted, target in rows:
                    kind_: Kind = kind
                    event = Event(event_id=event_id, kind=kind_, topic_id=topic_id, author=author,
                                  created_at=created_at, target_id=(target or "") if kind != "post" else None)
                    yield event, bool(retracted)
    finally:
        await conn.close()


async def load_partition_from_app_db(settings: Settings, state: PartitionState) -> int:
    """Fold the app database's facts of this partition's topics into `state`; returns how many counted."""
    if not settings.database.path.exists():
        return 0
    partitions = settings.kafka.partitions
    counted = 0
    async for event, retracted in app_facts(settings, state.cutoff):
        if partition_of(event.topic_id, partitions) == state.partition:
            counted += state.apply(event, retracted=retracted) == "counted"
    log.info("loaded partition %d from the app database: %d live facts", state.partition, counted)
    return counted
