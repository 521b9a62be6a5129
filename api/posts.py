"""Trending posts: a topic's live posts of the snapshot's 24 h window, ranked by engagement.

A post is a live kind-1 event, a reply included (a reply is a post, as in `posts_24h`). Its
engagement is what it received inside the same window: live replies and boosts whose first `e`
tag names it, and bookmarks of it. Ties go to the newer post, then to the smaller event id so
the order is total. What a post, a reply and "a boost of X" are comes from `appdb.facts`, the
mapping every reader of the app database shares.

Cost per call: the requested topics' posts are found through `event_topics` (kukuri's index on
`topic_id`); the replies and boosts of the window are one range scan of kukuri's `created_at` index
in which only events with tags are parsed; bookmarks are one pass over `bookmarks` (kukuri gives
it no index on `post_id`).
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from api.models import TrendingPost
from appdb.facts import BOOST_KIND, POST_KIND, reactions_cte, reply_to, topic_posts_cte
from streams.windows import W24

# Engagement is summed per post in one GROUP BY over the posts and what they received (no join
# between intermediate results, which SQLite may run as a nested loop without an index); a post in
# several requested topics keeps its topics in a JSON list and is spread back over them.
_SQL = """
WITH {posts}, {reactions},
engagement(event_id, topics, author, content, created_at, tags, replies, boosts, bookmarks) AS (
    SELECT event_id, json_group_array(topic_id) FILTER (WHERE topic_id IS NOT NULL), MAX(author), MAX(content),
           MAX(created_at), MAX(tags), SUM(replies), SUM(boosts), SUM(bookmarks)
      FROM (
        SELECT topic_id, event_id, author, content, created_at, tags, 0 AS replies, 0 AS boosts, 0 AS bookmarks
          FROM app_posts
        UNION ALL
        SELECT NULL, target, NULL, NULL, NULL, NULL, app_kind = {post_kind}, app_kind = {boost_kind}, 0
          FROM app_reactions WHERE target IN (SELECT event_id FROM app_posts)
        UNION ALL
        SELECT NULL, post_id, NULL, NULL, NULL, NULL, 0, 0, 1
          FROM bookmarks
         WHERE post_id IN (SELECT event_id FROM app_posts) AND created_at >= :lo AND created_at < :hi
           AND user_pubkey IS NOT NULL
      )
     GROUP BY event_id
),
ranked AS (
    SELECT t.value AS topic_id, e.event_id, e.author, e.content, e.created_at, e.tags, e.replies, e.boosts,
           e.bookmarks, e.replies + e.boosts + e.bookmarks AS engagement,
           ROW_NUMBER() OVER (PARTITION BY t.value
                              ORDER BY e.replies + e.boosts + e.bookmarks DESC, e.created_at DESC, e.event_id ASC)
               AS position
      FROM engagement AS e, json_each(e.topics) AS t
)
SELECT topic_id, event_id, author, content, created_at, {reply_to}, replies, boosts, bookmarks, engagement, position
  FROM ranked WHERE position <= :per_topic ORDER BY topic_id, position
"""


async def posts_for(
    conn: aiosqlite.Connection, boundary: int, topic_ids: Sequence[str], per_topic: int
) -> dict[str, tuple[TrendingPost, ...]]:
    """Per topic of `topic_ids`, its top `per_topic` posts of W24 for boundary E; every topic is a key.

    One read of the app database; raises `sqlite3.Error` when it cannot be read.
    """
    wanted = list(dict.fromkeys(topic_ids))
    found: dict[str, list[TrendingPost]] = {topic: [] for topic in wanted}
    if wanted and per_topic > 0:
        lo, hi = W24.bounds(boundary)
        params: dict[str, object] = {"lo": lo, "hi": hi, "per_topic": per_topic}
        params.update({f"t{i}": topic for i, topic in enumerate(wanted)})
        async with conn.execute(_query(len(wanted)), params) as cursor:
            for topic_id, *post in await cursor.fetchall():
                found[topic_id].append(TrendingPost(*post))
    return {topic: tuple(posts) for topic, posts in found.items()}


def _query(topics: int) -> str:
    return _SQL.format(
        posts=topic_posts_cte(", ".join(f":t{i}" for i in range(topics))),
        reactions=reactions_cte(),
        reply_to=reply_to("tags"),
        post_kind=POST_KIND,
        boost_kind=BOOST_KIND,
    )
