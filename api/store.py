"""SQL reads of committed snapshots and of kukuri's `topics` table; callers pass the connection of
their read transaction, so everything one answer needs comes from one consistent state."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from streams.metrics import TOPIC_METRICS_COLUMNS, TopicMetrics
from streams.windows import W24

_COLS = ", ".join(TOPIC_METRICS_COLUMNS)
# One definition of the trending order; `ranking.rank_key` is its Python twin for live rows, and
# migration 0006 indexes exactly this order so a page of it is an index range scan.
RANK_ORDER_SQL = "score_24h DESC, score_6h DESC, posts_24h DESC, topic_id ASC"


@dataclass(frozen=True, slots=True)
class Run:
    """The newest `trending_runs` row: which snapshot is current, and which write of it."""

    window_end: int
    finished_at: int
    source: str


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str | None
    description: str | None
    member_count: int
    post_count: int


async def _first_row(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    """The first row, or None; also None on kukuri's database before kukuri-trending migrated it
    (no snapshot yet is not an error: the API falls back to live numbers)."""
    try:
        async with conn.execute(sql, params) as cursor:
            return await cursor.fetchone()
    except sqlite3.OperationalError as exc:
        if str(exc).startswith("no such table"):
            return None
        raise


async def newest_run(conn: aiosqlite.Connection) -> Run | None:
    row = await _first_row(conn, "SELECT window_end, finished_at, source FROM trending_runs ORDER BY window_end DESC LIMIT 1")
    return None if row is None else Run(*row)


async def previous_window_end(conn: aiosqlite.Connection, before: int) -> int | None:
    """The boundary of the newest committed snapshot before `before` (for `score_change`)."""
    row = await _first_row(
        conn, "SELECT window_end FROM trending_runs WHERE window_end < ? ORDER BY window_end DESC LIMIT 1", (before,)
    )
    return None if row is None else int(row[0])


async def ranked_page(conn: aiosqlite.Connection, window_end: int, offset: int, count: int) -> list[TopicMetrics]:
    async with conn.execute(
        f"SELECT {_COLS} FROM topic_metrics WHERE window_end = ? ORDER BY {RANK_ORDER_SQL} LIMIT ? OFFSET ?",
        (window_end, count, offset),
    ) as cursor:
        return [TopicMetrics(*row) for row in await cursor.fetchall()]


async def rows_at(conn: aiosqlite.Connection, window_end: int, topic_ids: Sequence[str]) -> dict[str, TopicMetrics]:
    """These topics' rows of one snapshot, looked up by primary key (`window_start` = E - 24h).

    The unary `+` keeps SQLite off the window_end indexes: without statistics it would pick one and
    scan the whole snapshot (100k rows) instead of doing a handful of primary-key lookups.
    """
    if not topic_ids:
        return {}
    window_start, _ = W24.bounds(window_end)
    async with conn.execute(
        f"SELECT {_COLS} FROM topic_metrics WHERE window_start = ? AND +window_end = ?"
        f" AND topic_id IN ({_marks(topic_ids)})",
        (window_start, window_end, *topic_ids),
    ) as cursor:
        return {row[0]: TopicMetrics(*row) for row in await cursor.fetchall()}


async def scores_at(conn: aiosqlite.Connection, window_end: int, topic_ids: Sequence[str]) -> dict[str, float]:
    """These topics' `score_24h` in one snapshot, by primary key as in `rows_at`."""
    if not topic_ids:
        return {}
    window_start, _ = W24.bounds(window_end)
    async with conn.execute(
        "SELECT topic_id, score_24h FROM topic_metrics WHERE window_start = ? AND +window_end = ?"
        f" AND topic_id IN ({_marks(topic_ids)})",
        (window_start, window_end, *topic_ids),
    ) as cursor:
        return {topic_id: score for topic_id, score in await cursor.fetchall()}


async def topics_by_id(conn: aiosqlite.Connection, topic_ids: Sequence[str]) -> dict[str, TopicInfo]:
    """kukuri's `topics` rows for these ids; an id without a row is absent from the result."""
    if not topic_ids:
        return {}
    async with conn.execute(
        "SELECT topic_id, name, description, COALESCE(member_count, 0), COALESCE(post_count, 0)"
        f" FROM topics WHERE topic_id IN ({_marks(topic_ids)})",
        tuple(topic_ids),
    ) as cursor:
        return {row[0]: TopicInfo(*row[1:]) for row in await cursor.fetchall()}


async def run_window_ends(conn: aiosqlite.Connection) -> list[int]:
    async with conn.execute("SELECT window_end FROM trending_runs ORDER BY window_end") as cursor:
        return [int(row[0]) for row in await cursor.fetchall()]


async def score_series(conn: aiosqlite.Connection, topic_ids: Sequence[str]) -> dict[str, dict[int, float]]:
    """Every retained `score_24h` of these topics, by window_end (a primary-key range per topic)."""
    series: dict[str, dict[int, float]] = {t: {} for t in topic_ids}
    if not topic_ids:
        return series
    async with conn.execute(
        f"SELECT topic_id, window_end, score_24h FROM topic_metrics WHERE topic_id IN ({_marks(topic_ids)})",
        tuple(topic_ids),
    ) as cursor:
        for topic_id, window_end, score in await cursor.fetchall():
            series[topic_id][window_end] = score
    return series


def _marks(values: Sequence[object]) -> str:
    return ", ".join(["?"] * len(values))
