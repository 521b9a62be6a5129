"""Trending posts: a topic's live posts of the snapshot's 24 h window, ranked by engagement.

A post is a live kind-1 event, a reply included (a reply is a post, as in `posts_24h`). Its
engagement is what it received inside the same window: live replies and boosts whose first `e`
tag names it, and bookmarks of it. Ties go to the newer post, then to the smaller event id so
the order is total. The `e`-tag rule is the app-metrics one (`sinks.app_metrics`), so "a reply"
and "a boost of X" mean the same here as in every metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiosqlite

from api.models import TrendingPost
from sinks.app_metrics import E_TAGS_SQL  # the shared `e`-tag rule of CONTRACT 3.2

_FIRST_E_TAG = "(SELECT j.value ->> 1 FROM {e_tags} ORDER BY j.key LIMIT 1)"

# `+kind` / `+deleted` keep the planner on the created_at index, as in `sinks.app_metrics`: a day of
# events is far fewer rows than all kind-1 rows ever written.
_SQL = """
WITH candidates AS MATERIALIZED (
    SELECT t.topic_id, e.event_id, e.public_key, e.content, e.created_at, {post_parent} AS reply_to
      FROM event_topics AS t JOIN events AS e ON e.event_id = t.event_id
     WHERE t.topic_id IN ({topics}) AND e.created_at >= :lo AND e.created_at < :hi
       AND +e.kind = 1 AND +e.deleted = 0
),
reactions(target, kind) AS MATERIALIZED (
    SELECT {reaction_target}, r.kind
      FROM events AS r
     WHERE r.created_at >= :lo AND r.created_at < :hi AND +r.kind IN (1, 6) AND +r.deleted = 0
),
received(event_id, replies, boosts) AS (
    SELECT target, SUM(kind = 1), SUM(kind = 6) FROM reactions
     WHERE target IN (SELECT event_id FROM candidates) GROUP BY target
),
saved(event_id, bookmarks) AS (
    SELECT post_id, COUNT(*) FROM bookmarks
     WHERE post_id IN (SELECT event_id FROM candidates) AND created_at >= :lo AND created_at < :hi
       AND user_pubkey IS NOT NULL
     GROUP BY post_id
),
scored AS (
    SELECT c.*, COALESCE(g.replies, 0) AS replies, COALESCE(g.boosts, 0) AS boosts,
           COALESCE(s.bookmarks, 0) AS bookmarks
      FROM candidates AS c
      LEFT JOIN received AS g ON g.event_id = c.event_id
      LEFT JOIN saved AS s ON s.event_id = c.event_id
),
ranked AS (
    SELECT *, replies + boosts + bookmarks AS engagement,
           ROW_NUMBER() OVER (PARTITION BY topic_id
                              ORDER BY replies + boosts + bookmarks DESC, created_at DESC, event_id ASC) AS position
      FROM scored
)
SELECT topic_id, event_id, public_key, content, created_at, reply_to, replies, boosts, bookmarks, engagement, position
  FROM ranked WHERE position <= :per_topic ORDER BY topic_id, position
"""


async def trending_posts(
    conn: aiosqlite.Connection, window: tuple[int, int], caps: Mapping[str, int]
) -> dict[str, tuple[TrendingPost, ...]]:
    """Per topic, its top `caps[topic]` posts created in `window` = [lo, hi)."""
    wanted = [topic for topic, cap in caps.items() if cap > 0]
    found: dict[str, list[TrendingPost]] = {topic: [] for topic in caps}
    if wanted:
        params: dict[str, object] = {"lo": window[0], "hi": window[1], "per_topic": max(caps.values())}
        params.update({f"t{i}": topic for i, topic in enumerate(wanted)})
        async with conn.execute(_query(wanted), params) as cursor:
            for topic_id, *post in await cursor.fetchall():
                if len(found[topic_id]) < caps[topic_id]:
                    found[topic_id].append(TrendingPost(*post))
    return {topic: tuple(posts) for topic, posts in found.items()}


def _query(topics: Sequence[str]) -> str:
    return _SQL.format(
        topics=", ".join(f":t{i}" for i in range(len(topics))),
        post_parent=_FIRST_E_TAG.format(e_tags=E_TAGS_SQL.format(tags="e.tags")),
        reaction_target=_FIRST_E_TAG.format(e_tags=E_TAGS_SQL.format(tags="r.tags")),
    )
