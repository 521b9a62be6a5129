"""A topic's rank in a committed snapshot as the read API counts it, for `previous_rank`.

The read API numbers a ranking's rows from 1, skipping topics that kukuri's `topics` table does not
know. `api.queries` finds most previous ranks in the first page of the previous snapshot's ranking;
these reads count the rank of a topic that was further down, by an index range up to its row.

Callers pass the connection of their read transaction, as for `sinks.storage.reads`.
"""

from __future__ import annotations

import aiosqlite

from sinks.storage.sql import scalar
from streams.windows import W24

# Rows of `topic_metrics` ordered before the row `m0` in the trending order (reads.RANK_ORDER_SQL).
# `score_24h >= ?` bounds the scan to an index range of idx_topic_metrics_rank.
_BEFORE_ACTIVE = f"""
SELECT COUNT(*) FROM topic_metrics AS m0 JOIN topic_metrics AS m
  ON m.window_end = m0.window_end AND m.score_24h >= m0.score_24h
 AND (m.score_24h > m0.score_24h OR (m.score_24h = m0.score_24h AND (m.score_6h > m0.score_6h
      OR (m.score_6h = m0.score_6h AND (m.posts_24h > m0.posts_24h
      OR (m.posts_24h = m0.posts_24h AND m.topic_id < m0.topic_id))))))
 WHERE m0.topic_id = ? AND m0.window_start = ? - {W24.length_ms} AND +m0.window_end = ?
   AND EXISTS (SELECT 1 FROM topics AS t WHERE t.topic_id = m.topic_id)
"""

_BEFORE_SHADOW = """
SELECT COUNT(*) FROM topic_profile_scores AS s0 JOIN topic_profile_scores AS s
  ON s.window_end = s0.window_end AND s.profile = s0.profile AND s.rank < s0.rank
 WHERE s0.window_end = ? AND s0.profile = ? AND s0.topic_id = ?
   AND EXISTS (SELECT 1 FROM topics AS t WHERE t.topic_id = s.topic_id)
"""

_RANKED_SHADOW = "SELECT rank FROM topic_profile_scores WHERE window_end = ? AND profile = ? AND topic_id = ?"


async def listed_rank(conn: aiosqlite.Connection, window_end: int, profile: str | None, topic_id: str) -> int | None:
    """The 1-based rank of `topic_id` in a ranking of snapshot `window_end` (the active profile's,
    `profile=None`, or a stored shadow's), counting only topics present in `topics`; None when the
    ranking does not hold the topic."""
    if profile is None:
        present = await scalar(
            conn, "SELECT 1 FROM topic_metrics WHERE topic_id = ? AND window_start = ? AND +window_end = ?",
            (topic_id, window_end - W24.length_ms, window_end))
        if present is None:
            return None
        before = await scalar(conn, _BEFORE_ACTIVE, (topic_id, window_end, window_end))
    else:
        if await scalar(conn, _RANKED_SHADOW, (window_end, profile, topic_id)) is None:
            return None
        before = await scalar(conn, _BEFORE_SHADOW, (window_end, profile, topic_id))
    return int(before) + 1
