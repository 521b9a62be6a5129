"""Reads of the shadow profiles' scores (`topic_profile_scores`) for the API and `profiles compare`.

Callers pass the connection of their read transaction, as for `sinks.storage.reads`. Before the
score-profile migration the table does not exist: every read then finds nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import aiosqlite

from sinks.storage.reads import Run, ranked_page, scores_at
from streams.metrics import TOPIC_METRICS_COLUMNS, TopicMetrics
from streams.profile_comparison import TAU_DEPTH, RankingComparison, compare_rankings
from streams.windows import W24

_M_COLS: Final = ", ".join(f"m.{c}" for c in TOPIC_METRICS_COLUMNS)


async def _rows(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...]) -> list[Any]:
    try:
        async with conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())
    except sqlite3.OperationalError as exc:
        if not str(exc).startswith("no such table"):
            raise
        return []


async def profile_ranked_page(
    conn: aiosqlite.Connection, window_end: int, profile: str, offset: int, count: int
) -> list[TopicMetrics]:
    """Rows `offset .. offset+count` of a shadow profile's ranking of snapshot `window_end`: the
    topics' `topic_metrics` rows with the profile's `score_24h` / `score_6h`, unranked topics left out."""
    rows = await _rows(
        conn,
        f"SELECT {_M_COLS}, s.score_24h, s.score_6h FROM topic_profile_scores AS s"
        f" JOIN topic_metrics AS m ON m.topic_id = s.topic_id AND m.window_start = s.window_end - {W24.length_ms}"
        " WHERE s.window_end = ? AND s.profile = ? AND s.rank IS NOT NULL ORDER BY s.rank LIMIT ? OFFSET ?",
        (window_end, profile, count, offset),
    )
    out = []
    for row in rows:
        metrics = TopicMetrics(*row[: len(TOPIC_METRICS_COLUMNS)])
        metrics.score_24h, metrics.score_6h = row[-2], row[-1]
        out.append(metrics)
    return out


async def top_topics(
    conn: aiosqlite.Connection, window_end: int, profile: str | None, n: int, min_authors: int = 0
) -> list[str]:
    """The first `n` topic ids of a ranking of snapshot `window_end`: a shadow profile's, or the
    active one's (`profile=None`, the order of `topic_metrics`, without topics under the active
    profile's `min_authors`)."""
    if profile is None:
        return [row.topic_id for row in await ranked_page(conn, window_end, 0, n, min_authors)]
    rows = await _rows(
        conn,
        "SELECT topic_id FROM topic_profile_scores WHERE window_end = ? AND profile = ? AND rank IS NOT NULL"
        " ORDER BY rank LIMIT ?",
        (window_end, profile, n),
    )
    return [topic for (topic,) in rows]


async def scores_for_fingerprint(
    conn: aiosqlite.Connection, run: Run, fingerprint: str | None, topic_ids: Sequence[str]
) -> dict[str, float] | None:
    """These topics' `score_24h` in the snapshot of `run` as computed with `fingerprint`, or None when
    that snapshot did not compute it.

    The snapshot's active profile is in `topic_metrics` (two runs from before profiles, both without
    a fingerprint, compare as before); its shadows are in `topic_profile_scores`.
    """
    if fingerprint == run.score_fingerprint:
        return await scores_at(conn, run.window_end, topic_ids)
    shadow = next((name for name, stored in run.score_shadows if stored == fingerprint), None)
    if shadow is None:
        return None
    if not topic_ids:
        return {}
    rows = await _rows(
        conn,
        "SELECT topic_id, score_24h FROM topic_profile_scores WHERE topic_id IN"
        f" ({', '.join('?' for _ in topic_ids)}) AND window_end = ? AND profile = ?",
        (*topic_ids, run.window_end, shadow),
    )
    return {topic: score for topic, score in rows}


async def stored_comparisons(
    conn: aiosqlite.Connection, run: Run, active_min_authors: int = 0
) -> list[tuple[str, RankingComparison]]:
    """Every shadow stored with the snapshot of `run`, by name, as (fingerprint, its comparison with
    the active ranking, whose profile has `active_min_authors`): the top `TAU_DEPTH` of each list is
    all the measures need."""
    active_name = run.score_profile or "unrecorded"
    active = await top_topics(conn, run.window_end, None, TAU_DEPTH, active_min_authors)
    compared = []
    for name, fingerprint in run.score_shadows:
        shadow = await top_topics(conn, run.window_end, name, TAU_DEPTH)
        compared.append((fingerprint, compare_rankings(active_name, active, name, shadow)))
    return compared
