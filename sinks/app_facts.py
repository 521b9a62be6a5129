"""Read facts back out of kukuri's tables (CONTRACT 3.2), to rebuild window state without Kafka.

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

from config.settings import Settings
from sinks.app_metrics import E_TAGS_SQL
from sinks.database import connect_reader
from streams.aggregation import PartitionState
from streams.events import Event, Kind

log = logging.getLogger("kukuri_trending.app_facts")

_FIRST_E_TAG = "(SELECT j.value ->> 1 FROM " + E_TAGS_SQL.format(tags="e.tags") + " ORDER BY j.key LIMIT 1)"
_HAS_E_TAG = "EXISTS (SELECT 1 FROM " + E_TAGS_SQL.format(tags="e.tags") + ")"

# The same mapping as the reconciliation's SQL (sinks.app_metrics), but one row per fact and
# topic, retracted rows included (they are loaded as retracted, so a replay cannot revive them).
FACTS_SQL = f"""
SELECT e.event_id, t.topic_id, CASE WHEN {_HAS_E_TAG} THEN 'reply' ELSE 'post' END,
       e.public_key, e.created_at, e.deleted, {_FIRST_E_TAG}
  FROM events e JOIN event_topics t ON t.event_id = e.event_id
 WHERE e.created_at >= :since AND +e.kind = 1 AND t.topic_id IS NOT NULL AND e.public_key IS NOT NULL
UNION ALL
SELECT e.event_id, t.topic_id, 'boost', e.public_key, e.created_at, e.deleted, t.event_id
  FROM events e JOIN event_topics t ON t.event_id = {_FIRST_E_TAG}
 WHERE e.created_at >= :since AND +e.kind = 6 AND t.topic_id IS NOT NULL AND e.public_key IS NOT NULL
UNION ALL
SELECT b.id, t.topic_id, 'bookmark', b.user_pubkey, b.created_at, 0, b.post_id
  FROM bookmarks b JOIN event_topics t ON t.event_id = b.post_id
 WHERE b.created_at >= :since AND t.topic_id IS NOT NULL AND b.user_pubkey IS NOT NULL
"""


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
        async with conn.execute(FACTS_SQL, {"since": since}) as cursor:
            while rows := await cursor.fetchmany(5000):
                for event_id, topic_id, kind, author, created_at, deleted, target in rows:
                    kind_: Kind = kind
                    event = Event(event_id=event_id, kind=kind_, topic_id=topic_id, author=author,
                                  created_at=created_at, target_id=(target or "") if kind != "post" else None)
                    yield event, deleted != 0
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
