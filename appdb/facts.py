"""What a fact is in kukuri's tables: the one SQL mapping from the app's rows to facts.

Every reader of the app database (the reconciliation recompute, the loader that rebuilds a
partition's window state, the trending-posts endpoint) builds its query from this module, so
"a reply", "a boost of X" and "retracted" mean the same everywhere:
- a kind-1 `events` row is a post, or a reply when its `tags` JSON has an element that is an array
  whose first item is "e"; the FIRST such element names its parent;
- a kind-6 row is a boost of the post named by its first `e` tag;
- a `bookmarks` row is a bookmark of `post_id` by `user_pubkey` (a removed bookmark is simply gone);
- an `events` row whose `deleted` is not exactly 0 (NULL included) is retracted;
- a post's or reply's topics are its `event_topics` rows; a boost's or bookmark's topics are its
  target post's, whether or not that post is retracted (a delete retracts only the fact it names);
- rows no valid event could describe count nowhere: a fact without an author, an `event_topics`
  row without a topic, a boost without a target. Tags that are not JSON, or not a list of arrays,
  make a kind-1 row a post and a kind-6 row a boost without a target.

Time ranges are `created_at >= :lo` and, when bounded, `created_at < :hi`. `+kind` / `+deleted`
keep the planner on kukuri's created_at index: the app's history is far longer than any window,
so a range scan on time beats walking every row of a kind ever written.
"""

from __future__ import annotations

from typing import Final

POST_KIND: Final = 1
BOOST_KIND: Final = 6


def first_e_tag(tags: str) -> str:
    """SQL: the first `e` tag of the JSON column `tags` as JSON text (`["e", id, ...]`), else NULL.

    The CASEs keep `->>` away from non-array elements and `json_each` away from text that is not
    JSON, so a malformed tag list cannot fail the query. Two shapes are answered without walking
    the list (which costs several times more): `[]`, every plain post, and a list whose first
    element is the `e` tag, as in nearly every reply and boost.
    """
    return (
        f"(CASE WHEN {tags} = '[]' OR NOT json_valid({tags}) THEN NULL"
        f" WHEN {tags} ->> '$[0][0]' = 'e' THEN {tags} -> '$[0]' ELSE"
        f" (SELECT j.value FROM json_each({tags}) AS j"
        "   WHERE CASE WHEN j.type = 'array' THEN j.value ->> 0 END = 'e' ORDER BY j.key LIMIT 1) END)"
    )


def retracted(deleted: str) -> str:
    """SQL: 1 when an `events.deleted` value retracts its row (anything but exactly 0), else 0."""
    return f"({deleted} IS NOT 0)"


def live(deleted: str) -> str:
    """SQL condition: the row is live. Written `+deleted = 0` so no index on it is ever chosen."""
    return f"+{deleted} = 0"


def _time_range(column: str, bounded: bool) -> str:
    return f"{column} >= :lo" + (f" AND {column} < :hi" if bounded else "")


def event_facts_cte(*, bounded: bool = True, live_only: bool = True) -> str:
    """CTE `app_events(event_id, app_kind, author, created_at, retracted, first_e)`: kind-1 and
    kind-6 rows in the time range, one per event, with their tags parsed once (MATERIALIZED: the
    JSON of an event is not parsed again for every topic it joins).

    `app_kind` is kukuri's kind (1 or 6); `first_e` the row's first `e` tag (see `first_e_tag`).
    """
    return f"""app_events(event_id, app_kind, author, created_at, retracted, first_e) AS MATERIALIZED (
    SELECT e.event_id, e.kind, e.public_key, e.created_at, {retracted("e.deleted")}, {first_e_tag("e.tags")}
      FROM events AS e
     WHERE {_time_range("e.created_at", bounded)} AND +e.kind IN ({POST_KIND}, {BOOST_KIND})
       AND e.public_key IS NOT NULL{f" AND {live('e.deleted')}" if live_only else ""}
)"""


def topic_facts_cte(*, bounded: bool = True, live_only: bool = True) -> str:
    """CTEs ending in `app_facts(event_id, topic_id, kind, author, created_at, retracted, target)`:
    one row per fact and topic it belongs to, `kind` being the stream's kind name.

    `target` is the parent of a reply (NULL when its `e` tag names none), the post of a boost or a
    bookmark, NULL for a post. With `live_only`, retracted facts are left out (`retracted` is then 0).
    """
    return f"""{event_facts_cte(bounded=bounded, live_only=live_only)},
app_facts(event_id, topic_id, kind, author, created_at, retracted, target) AS (
    SELECT f.event_id, t.topic_id, CASE WHEN f.first_e IS NULL THEN 'post' ELSE 'reply' END,
           f.author, f.created_at, f.retracted, f.first_e ->> 1
      FROM app_events AS f JOIN event_topics AS t ON t.event_id = f.event_id
     WHERE f.app_kind = {POST_KIND} AND t.topic_id IS NOT NULL
    UNION ALL
    SELECT f.event_id, t.topic_id, 'boost', f.author, f.created_at, f.retracted, t.event_id
      FROM app_events AS f JOIN event_topics AS t ON t.event_id = f.first_e ->> 1
     WHERE f.app_kind = {BOOST_KIND} AND t.topic_id IS NOT NULL
    UNION ALL
    SELECT k.id, t.topic_id, 'bookmark', k.user_pubkey, k.created_at, 0, k.post_id
      FROM bookmarks AS k JOIN event_topics AS t ON t.event_id = k.post_id
     WHERE {_time_range("k.created_at", bounded)} AND k.user_pubkey IS NOT NULL AND t.topic_id IS NOT NULL
)"""


def reactions_cte() -> str:
    """CTE `app_reactions(target, app_kind)`: live replies (kind 1) and boosts (kind 6) in the time
    range, one row per event, with the post their first `e` tag names (the engagement a post gets).

    Plain posts (`tags` = `[]`) are skipped before any JSON is parsed.
    """
    return f"""app_reactions(target, app_kind) AS MATERIALIZED (
    SELECT first_e ->> 1, app_kind FROM (
        SELECT {first_e_tag("r.tags")} AS first_e, r.kind AS app_kind
          FROM events AS r
         WHERE {_time_range("r.created_at", True)} AND +r.kind IN ({POST_KIND}, {BOOST_KIND})
           AND {live("r.deleted")} AND r.public_key IS NOT NULL AND r.tags IS NOT '[]'
    ) WHERE first_e IS NOT NULL
)"""


def topic_posts_cte(topic_marks: str) -> str:
    """CTE `app_posts(topic_id, event_id, author, content, created_at, tags)`: the live posts and
    replies in the time range of the topics `topic_marks` (SQL parameters), found through
    `event_topics` so only these topics' rows are read. `reply_to(tags)` gives a row's parent; it is
    left to the caller so only the rows it keeps have their tags parsed.
    """
    return f"""app_posts(topic_id, event_id, author, content, created_at, tags) AS MATERIALIZED (
    SELECT t.topic_id, e.event_id, e.public_key, e.content, e.created_at, e.tags
      FROM event_topics AS t CROSS JOIN events AS e ON e.event_id = t.event_id
     WHERE t.topic_id IN ({topic_marks}) AND {_time_range("e.created_at", True)} AND +e.kind = {POST_KIND}
       AND {live("e.deleted")} AND e.public_key IS NOT NULL
)"""


def reply_to(tags: str) -> str:
    """SQL: the parent a kind-1 row with these tags replies to (NULL for a post)."""
    return f"({first_e_tag(tags)} ->> 1)"
