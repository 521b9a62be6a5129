"""Reads of committed snapshots and runs: what the API serves, what reconciliation compares with,
and what the sink reports about itself.

Callers pass the connection of their read transaction, so everything one answer needs comes from
one consistent state. A database that kukuri-trending never migrated has no snapshot yet: reads
that may meet it return "nothing" instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiosqlite

from sinks.storage.sql import scalar, transaction
from streams.metrics import TOPIC_METRICS_COLUMNS, WINDOW_METRICS_COLUMNS, TopicMetrics, WindowMetrics
from streams.windows import W24

_COLS: Final = ", ".join(TOPIC_METRICS_COLUMNS)
_OURS: Final = ("topic_metrics", "topic_window_metrics", "trending_runs")
# One definition of the trending order; `api.ranking.rank_key` is its Python twin for live rows, and
# migration 0006 indexes exactly this order so a page of it is an index range scan.
RANK_ORDER_SQL: Final = "score_24h DESC, score_6h DESC, posts_24h DESC, topic_id ASC"


@dataclass(frozen=True, slots=True)
class Run:
    """The newest `trending_runs` row: which snapshot is current, and which write of it."""

    window_end: int
    finished_at: int
    source: str
    score_profile: str | None = None  # the active profile and its fingerprint; None for runs before profiles
    score_fingerprint: str | None = None
    score_shadows: tuple[tuple[str, str], ...] = ()  # (shadow name, fingerprint) stored with it, by name


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    rows: list[TopicMetrics]
    window_rows: list[WindowMetrics]
    run_source: str | None  # `trending_runs.source` for the boundary, None when no run is recorded


async def _first_row(conn: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    """The first row, or None; also None before kukuri-trending migrated the database."""
    try:
        async with conn.execute(sql, params) as cursor:
            return await cursor.fetchone()
    except sqlite3.OperationalError as exc:
        if str(exc).startswith("no such table"):
            return None
        raise


async def newest_run(conn: aiosqlite.Connection) -> Run | None:
    return await _run(conn, "ORDER BY window_end DESC LIMIT 1", ())


async def previous_run(conn: aiosqlite.Connection, before: int) -> Run | None:
    """The newest committed run before boundary `before` (for `score_change`)."""
    return await _run(conn, "WHERE window_end < ? ORDER BY window_end DESC LIMIT 1", (before,))


async def run_at_or_before(conn: aiosqlite.Connection, at: int) -> Run | None:
    """The newest committed run whose boundary is at or before `at`."""
    return await _run(conn, "WHERE window_end <= ? ORDER BY window_end DESC LIMIT 1", (at,))


async def previous_window_end(conn: aiosqlite.Connection, before: int) -> int | None:
    """The boundary of the newest committed snapshot before `before`."""
    run = await previous_run(conn, before)
    return None if run is None else run.window_end


async def _run(conn: aiosqlite.Connection, where: str, params: tuple[object, ...]) -> Run | None:
    try:
        row = await _first_row(
            conn,
            "SELECT window_end, finished_at, source, score_profile, score_fingerprint, score_shadows"
            f" FROM trending_runs {where}",
            params,
        )
    except sqlite3.OperationalError as exc:
        if "no such column" not in str(exc):
            raise
        # A database the workers have not migrated to score profiles yet (an API upgraded first).
        row = await _first_row(conn, f"SELECT window_end, finished_at, source FROM trending_runs {where}", params)
        return None if row is None else Run(*row)
    if row is None:
        return None
    window_end, finished_at, source, profile, fingerprint, shadows = row
    return Run(window_end, finished_at, source, profile, fingerprint,
               tuple(sorted(json.loads(shadows).items())) if shadows else ())


async def last_finished_at(conn: aiosqlite.Connection) -> int | None:
    """When the newest recorded run finished (ms), None when no run is recorded."""
    finished = await scalar(conn, "SELECT MAX(finished_at) FROM trending_runs")
    return None if finished is None else int(finished)


async def ranked_page(
    conn: aiosqlite.Connection, window_end: int, offset: int, count: int, min_authors: int = 0
) -> list[TopicMetrics]:
    """Rows `offset .. offset+count` of snapshot `window_end` in rank order, leaving out topics with
    fewer than `min_authors` distinct authors (the active profile does not rank them)."""
    async with conn.execute(
        f"SELECT {_COLS} FROM topic_metrics WHERE window_end = ? AND unique_authors >= ?"
        f" ORDER BY {RANK_ORDER_SQL} LIMIT ? OFFSET ?",
        (window_end, min_authors, count, offset),
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


async def metrics_rows(conn: aiosqlite.Connection, first: int, last: int) -> dict[int, list[TopicMetrics]]:
    """`topic_metrics` rows for boundaries in [first, last], by boundary, each sorted by topic."""
    found: dict[int, list[TopicMetrics]] = {}
    async with conn.execute(
        f"SELECT {_COLS} FROM topic_metrics WHERE window_end BETWEEN ? AND ? ORDER BY window_end, topic_id",
        (first, last),
    ) as cursor:
        for values in await cursor.fetchall():
            row = TopicMetrics(*values)
            found.setdefault(row.window_end, []).append(row)
    return found


async def _tables(conn: aiosqlite.Connection) -> set[str]:
    async with conn.execute(
        f"SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ({_marks(_OURS)})", _OURS
    ) as cursor:
        return {name for (name,) in await cursor.fetchall()}


async def read_stored(conn: aiosqlite.Connection, boundary: int) -> StoredSnapshot:
    """Everything stored for boundary E, read in one read transaction so the parts agree.

    A database that was never migrated simply has nothing stored, which `reconcile --dry-run`
    reports as every row missing rather than failing.
    """
    rows: list[TopicMetrics] = []
    window_rows: list[WindowMetrics] = []
    source = None
    async with transaction(conn, write=False):
        tables = await _tables(conn)
        if "topic_metrics" in tables:
            async with conn.execute(
                f"SELECT {_COLS} FROM topic_metrics WHERE window_end = ? ORDER BY topic_id, window_start", (boundary,),
            ) as cursor:
                rows = [TopicMetrics(*r) for r in await cursor.fetchall()]
        if "topic_window_metrics" in tables:
            async with conn.execute(
                f"SELECT {', '.join(WINDOW_METRICS_COLUMNS)} FROM topic_window_metrics WHERE window_end = ?"
                " ORDER BY window, topic_id", (boundary,),
            ) as cursor:
                window_rows = [WindowMetrics(*r) for r in await cursor.fetchall()]
        if "trending_runs" in tables:
            found = await scalar(conn, "SELECT source FROM trending_runs WHERE window_end = ?", (boundary,))
            source = None if found is None else str(found)
    return StoredSnapshot(rows, window_rows, source)


async def boundaries_without_run(conn: aiosqlite.Connection, boundaries: Iterable[int]) -> list[int]:
    """The given boundaries (ascending) that have no `trending_runs` row."""
    wanted = sorted(set(boundaries))
    if not wanted or "trending_runs" not in await _tables(conn):
        return wanted
    async with conn.execute(
        "SELECT window_end FROM trending_runs WHERE window_end BETWEEN ? AND ?", (wanted[0], wanted[-1])
    ) as cursor:
        done = {end for (end,) in await cursor.fetchall()}
    return [b for b in wanted if b not in done]


def _marks(values: Sequence[object]) -> str:
    return ", ".join(["?"] * len(values))
