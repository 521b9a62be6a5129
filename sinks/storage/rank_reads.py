"""Topics' ranks in a committed snapshot as the read API counts them, for `previous_rank`.

The read API numbers a ranking's rows from 1, skipping topics that kukuri's `topics` table does not
know. `api.queries` finds most previous ranks in the first page of the previous snapshot's ranking;
these reads number the ranking down to the deepest of the remaining topics, in one index range
(bounded by that topic's score or stored rank), so their cost is one walk to the deepest topic
asked for, never one walk per topic.

Callers pass the connection of their read transaction, as for `sinks.storage.reads`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

import aiosqlite

from sinks.storage.reads import RANK_ORDER_SQL
from sinks.storage.sql import scalar
from streams.windows import W24

_PRESENT: Final = "EXISTS (SELECT 1 FROM topics AS t WHERE t.topic_id = m.topic_id)"


def _marks(values: Collection[object]) -> str:
    return ", ".join("?" for _ in values)


async def listed_ranks(
    conn: aiosqlite.Connection, window_end: int, profile: str | None, topic_ids: Collection[str]
) -> dict[str, int]:
    """The 1-based ranks of these topics in a ranking of snapshot `window_end` (the active profile's,
    `profile=None`, or a stored shadow's), counting only topics present in `topics`; a topic the
    ranking does not hold (or that `topics` does not know) is absent from the result."""
    if not topic_ids:
        return {}
    if profile is None:
        deepest = await scalar(
            conn,
            f"SELECT MIN(score_24h) FROM topic_metrics WHERE window_start = ? AND +window_end = ?"
            f" AND topic_id IN ({_marks(topic_ids)})",
            (window_end - W24.length_ms, window_end, *topic_ids))
        if deepest is None:
            return {}
        # `score_24h >= ?` keeps the walk on idx_topic_metrics_rank, down to the deepest topic asked for.
        sql = (f"SELECT topic_id, ROW_NUMBER() OVER (ORDER BY {RANK_ORDER_SQL}) AS n FROM topic_metrics AS m"
               f" WHERE window_end = ? AND score_24h >= ? AND {_PRESENT}")
        params: tuple[object, ...] = (window_end, deepest)
    else:
        deepest = await scalar(
            conn,
            f"SELECT MAX(rank) FROM topic_profile_scores WHERE window_end = ? AND profile = ?"
            f" AND topic_id IN ({_marks(topic_ids)})",
            (window_end, profile, *topic_ids))
        if deepest is None:
            return {}
        sql = ("SELECT topic_id, ROW_NUMBER() OVER (ORDER BY rank) AS n FROM topic_profile_scores AS m"
               f" WHERE window_end = ? AND profile = ? AND rank <= ? AND {_PRESENT}")
        params = (window_end, profile, deepest)
    async with conn.execute(
        f"SELECT topic_id, n FROM ({sql}) WHERE topic_id IN ({_marks(topic_ids)})",
        (*params, *topic_ids),
    ) as cursor:
        return {topic: int(rank) for topic, rank in await cursor.fetchall()}
