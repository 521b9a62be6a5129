"""Recompute trending metrics from kukuri's own tables (CONTRACT 3.2), the source of truth.

The reconciliation batch, the backfill and the read API's live fallback use this module to get the
numbers the stream should have produced. It only reads: every query runs on a `mode=ro` connection
as ONE statement, i.e. one short implicit read transaction that, in WAL mode, never blocks the
app's writers and sees one consistent state of the database. Aggregation happens in SQL; what comes
back is one row per topic per window (or, for a series of boundaries, one row per topic, author and
pane), never the facts themselves.

What a fact is (the app's mapping, CONTRACT 3.2):
- a live (`deleted` exactly 0) kind-1 `events` row is a post, or a reply when its `tags` JSON has an
  element whose first item is "e"; its topics are its `event_topics` rows;
- a live kind-6 row is a boost of the post in its first `e` tag, in that post's topics;
- a `bookmarks` row is a bookmark by `user_pubkey`, in the bookmarked post's topics (a removed
  bookmark is simply gone, there is no flag);
- a boost or bookmark still counts when its target post is deleted: a delete retracts only the fact
  it names, as in the stream;
- rows no valid event could describe (an `event_topics` row without a topic, a bookmark without a
  user) count nowhere, and tags that are not JSON or not a list of arrays make a kind-1 row a post.

How much each kind adds comes from `streams.metrics.CONTRIBUTIONS`, turned into a SQL table, and rows
are built only by `streams.metrics.topic_metrics()` / `window_metrics()`, so the batch cannot drift
from the stream.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from config.settings import ScoreWeights
from sinks.database import connect_reader
from streams.events import Kind
from streams.metrics import (
    CONTRIBUTIONS,
    TopicMetrics,
    WindowCounts,
    WindowMetrics,
    topic_metrics,
    window_metrics,
)
from streams.windows import PANE_MS, W6, W24, WPREV, WindowSpec, window_set

# Kinds that exist as rows in the app's tables; a delete is a flag there, not a fact.
_STORED_KINDS: Final[tuple[Kind, ...]] = ("post", "reply", "boost", "bookmark")

# A JSON tag array's element is an `e` tag when it is itself an array whose first item is "e"
# (api/posts.py shares this rule). The CASE keeps `->>` away from non-array elements (a malformed tag
# list must not fail the query), and json_valid() does the same for a `tags` value that is not JSON.
E_TAGS_SQL = (
    "json_each(CASE WHEN json_valid({tags}) THEN {tags} END) AS j"
    " WHERE CASE WHEN j.type = 'array' THEN j.value ->> 0 END = 'e'"
)


def _contributions_table() -> str:
    rows = ", ".join(
        f"('{kind}', {c.posts}, {c.replies}, {c.boosts}, {c.bookmarks}, {int(c.authors)}, {int(c.participants)})"
        for kind, c in ((k, CONTRIBUTIONS[k]) for k in _STORED_KINDS)
    )
    return f"contrib(kind, posts, replies, boosts, bookmarks, authors, participants) AS (VALUES {rows})"


# Live facts with created_at in [:lo, :hi), one row per fact and topic. `+kind` / `+deleted` keep
# the planner on kukuri's created_at index: the app's history is far longer than any window, so a
# range scan on time beats walking every kind-1 row ever written. The post and boost CTEs are
# MATERIALIZED so the JSON of each event is parsed once, not once per topic it joins.
_FACTS_CTES: Final = f"""
{_contributions_table()},
posts(event_id, author, created_at, is_reply) AS MATERIALIZED (
    SELECT e.event_id, e.public_key, e.created_at,
           EXISTS (SELECT 1 FROM {E_TAGS_SQL.format(tags="e.tags")})
      FROM events AS e
     WHERE e.created_at >= :lo AND e.created_at < :hi AND +e.kind = 1 AND +e.deleted = 0
),
boosts(target, author, created_at) AS MATERIALIZED (
    SELECT (SELECT j.value ->> 1 FROM {E_TAGS_SQL.format(tags="e.tags")} ORDER BY j.key LIMIT 1),
           e.public_key, e.created_at
      FROM events AS e
     WHERE e.created_at >= :lo AND e.created_at < :hi AND +e.kind = 6 AND +e.deleted = 0
),
facts(topic_id, author, kind, created_at) AS (
    SELECT t.topic_id, p.author, CASE WHEN p.is_reply THEN 'reply' ELSE 'post' END, p.created_at
      FROM posts AS p JOIN event_topics AS t ON t.event_id = p.event_id
     WHERE t.topic_id IS NOT NULL
    UNION ALL
    SELECT t.topic_id, b.author, 'boost', b.created_at
      FROM boosts AS b JOIN event_topics AS t ON t.event_id = b.target
     WHERE t.topic_id IS NOT NULL
    UNION ALL
    SELECT t.topic_id, k.user_pubkey, 'bookmark', k.created_at
      FROM bookmarks AS k JOIN event_topics AS t ON t.event_id = k.post_id
     WHERE k.created_at >= :lo AND k.created_at < :hi AND k.user_pubkey IS NOT NULL AND t.topic_id IS NOT NULL
)"""

_COUNT_COLUMNS: Final = (
    "SUM(c.posts), SUM(c.replies), SUM(c.boosts), SUM(c.bookmarks),"
    " COUNT(DISTINCT CASE WHEN c.authors THEN f.author END),"
    " COUNT(DISTINCT CASE WHEN c.participants THEN f.author END)"
)


def _window_counts_sql(windows: Sequence[WindowSpec]) -> str:
    values = ", ".join(f"(:name{i}, :start{i}, :end{i})" for i in range(len(windows)))
    return (
        f"WITH windows(name, start_ms, end_ms) AS (VALUES {values}), {_FACTS_CTES}\n"
        f"SELECT w.name, f.topic_id, {_COUNT_COLUMNS}\n"
        "  FROM facts AS f JOIN contrib AS c ON c.kind = f.kind\n"
        "  JOIN windows AS w ON f.created_at >= w.start_ms AND f.created_at < w.end_ms\n"
        " GROUP BY w.name, f.topic_id"
    )


_PANE_ACTIVITY_SQL: Final = (
    f"WITH {_FACTS_CTES}\n"
    f"SELECT f.created_at - f.created_at % {PANE_MS} AS pane, f.topic_id, f.author,"
    " SUM(c.posts), SUM(c.replies), SUM(c.boosts), SUM(c.bookmarks), MAX(c.authors), MAX(c.participants)\n"
    "  FROM facts AS f JOIN contrib AS c ON c.kind = f.kind\n"
    " GROUP BY pane, f.topic_id, f.author ORDER BY pane"
)


@dataclass(frozen=True)
class Snapshot:
    """Everything written for one boundary: `topic_metrics` rows and the extra windows' rows."""

    boundary: int
    rows: list[TopicMetrics]  # sorted by topic_id
    window_rows: list[WindowMetrics]  # sorted by (window, topic_id)


# Per window name, per topic: that topic's live facts in the window.
CountsByWindow = Mapping[str, Mapping[str, WindowCounts]]


class PaneActivity(NamedTuple):
    """One author's live facts in one topic and one 5-minute pane (see `read_pane_activity`)."""

    pane: int
    topic_id: str
    author: str
    posts: int
    replies: int
    boosts: int
    bookmarks: int
    authored: int  # 1 when the author counts towards unique_authors in this pane
    participated: int  # 1 when the author counts as a participant in this pane


def snapshot_from_counts(
    boundary: int,
    counts: CountsByWindow,
    weights: ScoreWeights,
    *,
    windows: Sequence[WindowSpec],
    updated_at: int,
) -> Snapshot:
    """Build boundary E's rows from per-window counts; a topic is in the snapshot iff live in W24.

    Every window of `windows` other than W24, W6 and Wprev is an extra window (topic_window_metrics).
    """
    w24, w6, prev = counts.get(W24.name, {}), counts.get(W6.name, {}), counts.get(WPREV.name, {})
    no_facts = WindowCounts()
    rows = [
        topic_metrics(
            topic, boundary, w24[topic], w6.get(topic, no_facts), prev.get(topic, no_facts).participants,
            weights, updated_at,
        )
        for topic in sorted(t for t, c in w24.items() if not c.empty)
    ]
    window_rows = [
        window_metrics(topic, spec.name, spec.bounds(boundary), c, weights, updated_at)
        for spec in sorted((w for w in windows if w not in (W24, W6, WPREV)), key=lambda s: s.name)
        for topic, c in sorted(counts.get(spec.name, {}).items())
        if not c.empty
    ]
    return Snapshot(boundary, rows, window_rows)


async def recompute_snapshot(
    app_db: Path,
    boundary: int,
    weights: ScoreWeights,
    *,
    extra_windows: Mapping[str, int] | None = None,
    updated_at: int | None = None,
) -> Snapshot:
    """The snapshot for boundary E as the stream would compute it from the app's current facts.

    Raises `sqlite3.Error` when the app database cannot be read (missing file, not kukuri's schema).
    """
    windows = window_set(extra_windows)
    params: dict[str, object] = {"lo": boundary - max(w.span_ms for w in windows), "hi": boundary}
    for i, spec in enumerate(windows):
        params[f"name{i}"], (params[f"start{i}"], params[f"end{i}"]) = spec.name, spec.bounds(boundary)
    conn = await connect_reader(app_db)
    try:
        async with conn.execute(_window_counts_sql(windows), params) as cursor:
            result = await cursor.fetchall()
    finally:
        await conn.close()
    counts: dict[str, dict[str, WindowCounts]] = {}
    for name, topic, *numbers in result:
        counts.setdefault(name, {})[topic] = WindowCounts(*numbers)
    stamp = int(time.time() * 1000) if updated_at is None else updated_at
    return snapshot_from_counts(boundary, counts, weights, windows=windows, updated_at=stamp)


async def read_pane_activity(app_db: Path, start: int, end: int) -> list[PaneActivity]:
    """Live facts with created_at in [start, end), summed per (pane, topic, author), ordered by pane.

    Distinct counts do not add up over panes, so a series of boundaries needs who was active in
    each pane, not just how many: `reconcile.panes` slides every window over these rows.
    """
    conn = await connect_reader(app_db)
    try:
        async with conn.execute(_PANE_ACTIVITY_SQL, {"lo": start, "hi": end}) as cursor:
            return [PaneActivity._make(row) for row in await cursor.fetchall()]
    finally:
        await conn.close()
