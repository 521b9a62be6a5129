"""A snapshot's rows in trending order, read page by page, and the per-snapshot cache of them.

A committed snapshot never changes except by a rewrite of the same boundary, which records a new
`trending_runs.finished_at`; so the ordered prefix is cached per `(window_end, finished_at)` and a
request costs a few primary-key lookups instead of a sort over every topic.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import aiosqlite

from api.store import Run, profile_ranked_page, ranked_page
from streams.metrics import ProfileScore, TopicMetrics

# Rows read at once: enough for the largest `limit` plus some topics missing from `topics`.
PAGE_SIZE = 200


def rank_key(row: TopicMetrics) -> tuple[float, float, int, str]:
    """The order of `store.RANK_ORDER_SQL`, for rows computed live."""
    return (-row.score_24h, -row.score_6h, -row.posts_24h, row.topic_id)


class RankedRows(Protocol):
    """One snapshot's rows in trending order."""

    window_end: int

    async def page(self, conn: aiosqlite.Connection, offset: int, count: int) -> Sequence[TopicMetrics]:
        """Rows `offset .. offset+count` of the order (fewer at the end)."""
        ...


class LiveRanking:
    """Rows computed by the fallback, sorted once and held in memory, with the shadow profiles' scores."""

    def __init__(
        self, window_end: int, rows: Sequence[TopicMetrics], shadow_rows: Sequence[ProfileScore] = (),
        min_authors: int = 0,
    ) -> None:
        """`min_authors`: the active profile's; topics with fewer distinct authors are not ranked."""
        self.window_end = window_end
        self.rows = sorted((row for row in rows if row.unique_authors >= min_authors), key=rank_key)
        self.by_topic = {row.topic_id: row for row in rows}
        self.shadow_rows = shadow_rows

    def for_profile(self, profile: str) -> LiveRanking:
        """The ranking of a shadow profile: its ranked topics, with its scores."""
        rows = [
            replace(self.by_topic[r.topic_id], score_24h=r.score_24h, score_6h=r.score_6h)
            for r in self.shadow_rows if r.profile == profile and r.ranked
        ]
        return LiveRanking(self.window_end, rows)

    async def page(self, conn: aiosqlite.Connection, offset: int, count: int) -> Sequence[TopicMetrics]:
        return self.rows[offset : offset + count]


class CommittedRanking:
    """A committed snapshot's ordered prefix, extended on demand from the database.

    Callers must pass a connection whose transaction saw `run` as recorded (the newest run, or the
    one before it for `previous_rank`), so every page comes from the same write of the snapshot.
    """

    def __init__(self, run: Run, profile: str | None = None, min_authors: int = 0) -> None:
        self.window_end = run.window_end
        self.profile = profile  # a shadow profile's ranking; None: the active one's (`topic_metrics`)
        self.min_authors = min_authors  # the active profile's: it leaves out topics with fewer authors
        self._rows: list[TopicMetrics] = []
        self._exhausted = False
        self._lock = asyncio.Lock()

    async def page(self, conn: aiosqlite.Connection, offset: int, count: int) -> Sequence[TopicMetrics]:
        end = offset + count
        if len(self._rows) < end and not self._exhausted:
            async with self._lock:
                while len(self._rows) < end and not self._exhausted:
                    if self.profile is None:
                        more = await ranked_page(conn, self.window_end, len(self._rows), PAGE_SIZE, self.min_authors)
                    else:
                        more = await profile_ranked_page(conn, self.window_end, self.profile, len(self._rows), PAGE_SIZE)
                    self._rows.extend(more)
                    self._exhausted = len(more) < PAGE_SIZE
        return self._rows[offset:end]


class RankingCache:
    """The rankings of the last few committed snapshot writes (with the previous snapshot's, which
    `previous_rank` reads, and a shadow profile's beside the active one's)."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, int, str | None, int], CommittedRanking] = OrderedDict()

    def get(self, run: Run, profile: str | None = None, min_authors: int = 0) -> CommittedRanking:
        key = (run.window_end, run.finished_at, profile, min_authors)
        ranking = self._entries.get(key)
        if ranking is None:
            ranking = self._entries[key] = CommittedRanking(run, profile, min_authors)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return ranking
