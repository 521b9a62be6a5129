"""How `topic_metrics` compares with what expiry should leave in it, read after each snapshot.

With expiry working the table holds the snapshots of the last `ttl_hours`, one row per active topic
each: never more than (snapshots inside the TTL) x (the most topics one of them wrote). Rows older
than the TTL, or more rows than that product, mean expiry is failing; a large table by itself only
means many topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import aiosqlite

HOUR_MS: Final = 3_600_000


@dataclass(frozen=True, slots=True)
class TopicMetricsHealth:
    rows: int
    expired_rows: int
    """Rows whose `window_end` is older than the TTL counted back from the snapshot's boundary:
    the snapshot's expiry (which counts back from a later clock) must have removed every one."""
    snapshots: int
    """Committed snapshots (`trending_runs`) inside the TTL."""
    peak_topics: int
    """The most topics one of those snapshots wrote."""

    @property
    def expected_rows(self) -> int:
        return self.snapshots * self.peak_topics


async def topic_metrics_health(conn: aiosqlite.Connection, *, boundary: int, ttl_hours: int) -> TopicMetricsHealth:
    """Read the numbers for the snapshot at `boundary` (after it committed and expired)."""
    cutoff = boundary - ttl_hours * HOUR_MS
    async with conn.execute(
        "SELECT (SELECT COUNT(*) FROM topic_metrics),"
        " (SELECT COUNT(*) FROM topic_metrics WHERE window_end < :cutoff),"
        " (SELECT COUNT(*) FROM trending_runs WHERE window_end >= :cutoff),"
        " (SELECT COALESCE(MAX(topics_upserted), 0) FROM trending_runs WHERE window_end >= :cutoff)",
        {"cutoff": cutoff},
    ) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return TopicMetricsHealth(*(int(v) for v in row))
