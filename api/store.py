"""The API's reads: committed snapshots and runs through `sinks.storage.reads` (where all SQL on
our tables lives), kukuri's `topics` table here. Callers pass the connection of their read
transaction, so everything one answer needs comes from one consistent state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from sinks.storage.profile_reads import profile_ranked_page, scores_for_fingerprint, top_topics
from sinks.storage.reads import (
    RANK_ORDER_SQL,
    Run,
    newest_run,
    previous_run,
    previous_window_end,
    ranked_page,
    rows_at,
    run_at_or_before,
    run_window_ends,
    score_series,
    scores_at,
)

__all__ = [
    "RANK_ORDER_SQL", "Run", "TopicInfo", "newest_run", "previous_run", "previous_window_end", "profile_ranked_page",
    "ranked_page", "rows_at", "run_at_or_before", "run_window_ends", "score_series", "scores_at",
    "scores_for_fingerprint", "top_topics", "topics_by_id",
]


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str | None
    description: str | None
    member_count: int
    post_count: int


async def topics_by_id(conn: aiosqlite.Connection, topic_ids: Sequence[str]) -> dict[str, TopicInfo]:
    """kukuri's `topics` rows for these ids; an id without a row is absent from the result."""
    if not topic_ids:
        return {}
    async with conn.execute(
        "SELECT topic_id, name, description, COALESCE(member_count, 0), COALESCE(post_count, 0)"
        f" FROM topics WHERE topic_id IN ({', '.join(['?'] * len(topic_ids))})",
        tuple(topic_ids),
    ) as cursor:
        return {row[0]: TopicInfo(*row[1:]) for row in await cursor.fetchall()}
