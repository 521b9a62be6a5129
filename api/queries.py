"""The library API: trending topics, posts, score history and health, straight from the database.

`list_trending_topics` / `list_trending_posts` are one-shot functions for scripts and other
services. A long-running process (the HTTP server, the live feed) keeps one `TrendingReader`, whose
connections, per-snapshot ranking cache and fallback cache then serve every request.

Which numbers an answer uses (the freshness rule of docs/api.md):
- the newest committed snapshot while it is fresh: `data_source="metrics"`, `stale=False`;
- otherwise live numbers for E = now aligned down to the interval: `data_source="fallback"`, with
  `stale=True` when a snapshot exists but is too old, `False` when there has never been one;
- and when the app database cannot be read either, the newest snapshot anyway, `stale=True`.
With `metrics.enabled = false` the job writes no snapshots, so their absence says nothing is late:
answers are the live numbers, `data_source="fallback"`, `stale=False`, and only when the app database
cannot be read the newest snapshot (if any), its `stale` computed as usual.
An answer is always read from one snapshot: the boundary comes from `trending_runs` in the same
read transaction as the snapshot's rows.

Score profiles (docs/scoring.md): a list is ranked by the active profile unless a computed shadow
profile is asked for. `score_change` compares a topic's score with the previous snapshot's score
for the same profile fingerprint (active or shadow then), and is null with a reason otherwise;
`previous_rank` is the topic's rank in that same ranking of the previous snapshot, counted as `rank`
is (topics missing from `topics` skipped), when within its first `PREVIOUS_RANK_DEPTH`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiosqlite

from api.errors import ApiError, AppDatabaseUnavailable, MetricsUnavailable, bad_request
from api.fallback import FallbackFailed, LiveFallback
from api.models import (
    ComputedProfile,
    DataSource,
    Health,
    HealthStatus,
    ProfileComparison,
    ProfileComparisons,
    ProfileRef,
    ScoreChangeReason,
    ScoreHistory,
    TopicHistory,
    TopicPosts,
    TrendingPosts,
    TrendingTopic,
    TrendingTopics,
)
from api.params import DEFAULT_LIMIT, DEFAULT_PER_TOPIC, MAX_LIMIT, MAX_PER_TOPIC, in_range
from api.pool import ReadPool
from api.posts import posts_for
from api.ranking import CommittedRanking, LiveRanking, RankedRows, RankingCache
from api.store import (
    Run,
    TopicInfo,
    newest_run,
    previous_run,
    rows_at,
    run_at_or_before,
    run_window_ends,
    score_series,
    scores_for_fingerprint,
    topics_by_id,
)
from config.settings import Settings
from sinks.storage.profile_reads import stored_comparisons
from sinks.storage.snapshots import now_ms
from streams.metrics import TopicMetrics
from streams.scoring import min_authors_of
from streams.windows import MINUTE_MS, align_down

# What the live feed compares to notice a new answer without building it.
FeedVersion = tuple[object, ...]
# How far down the previous snapshot's ranking `previous_rank` looks: twice the longest list the API
# serves, so a rank is known for every topic that could have been listed then and for the next ones.
# Further down it is null (with a score_change): the topic climbed from below any list shown. A
# bounded read keeps a cache miss cheap; numbering a 100k-topic snapshot to its end costs ~200 ms.
PREVIOUS_RANK_DEPTH = 2 * MAX_LIMIT


@dataclass(frozen=True, slots=True)
class _View:
    """The snapshot one answer is read from."""

    ranking: CommittedRanking | LiveRanking
    data_source: DataSource
    stale: bool
    fingerprint: str | None  # of the profile the ranking's scores were computed with

    @property
    def boundary(self) -> int:
        return self.ranking.window_end

    async def rows(self, conn: aiosqlite.Connection, topic_ids: Sequence[str]) -> dict[str, TopicMetrics]:
        if isinstance(self.ranking, LiveRanking):
            return {t: self.ranking.by_topic[t] for t in topic_ids if t in self.ranking.by_topic}
        return await rows_at(conn, self.boundary, topic_ids)


class TrendingReader:
    """Reads trending answers for one database; keep one per process and `close()` it at the end."""

    def __init__(self, settings: Settings, *, pool_size: int = 4, clock: Callable[[], int] = now_ms) -> None:
        self._pool = ReadPool(settings.database.path, pool_size)
        self._rankings = RankingCache()
        self._profiles = settings.metrics.profiles
        self._fallback = LiveFallback(settings.database.path, settings.metrics.profiles.computed)
        self._clock = clock
        self._metrics_enabled = settings.metrics.enabled
        self._interval_ms = settings.interval_ms
        self._stale_after_ms = settings.metrics.stale_after_minutes * MINUTE_MS

    async def close(self) -> None:
        await self._fallback.close()
        await self._pool.close()

    async def topics(self, limit: int = DEFAULT_LIMIT, profile: str | None = None) -> TrendingTopics:
        """The top `limit` (1..100) topics, ranked by `profile` (any computed profile; default: the
        active one); raises `ApiError` for a bad limit or profile or when nothing can be served."""
        in_range("limit", limit, 1, MAX_LIMIT)
        shadow = self._shadow(profile)
        async with self._view(shadow) as (conn, view):
            topics = await self._ranked_topics(conn, view, limit)
        ref = None if profile is None else ProfileRef(profile, view.fingerprint, shadow is None)
        return TrendingTopics(view.boundary, view.data_source, view.stale, topics, ref)

    @property
    def profile_names(self) -> tuple[str, ...]:
        """The profiles a list can be ranked by: the active one first, then the shadows."""
        return tuple(p.name for p in self._profiles.computed)

    @property
    def computed_profiles(self) -> tuple[ComputedProfile, ...]:
        """The profiles of `profile_names`, with what they compute."""
        return tuple(ComputedProfile(p.name, p.fingerprint, p.formula, i == 0)
                     for i, p in enumerate(self._profiles.computed))

    def _shadow(self, profile: str | None) -> str | None:
        """The shadow profile asked for; None for the active one. An unknown name is a 400."""
        if profile is None or profile == self._profiles.active.name:
            return None
        if profile not in {p.name for p in self._profiles.shadows}:
            computed = ", ".join(p.name for p in self._profiles.computed)
            raise bad_request("unknown_profile", f"profile {profile!r} is not computed (computed: {computed})")
        return profile

    async def compare(self, at: int | None = None) -> ProfileComparisons:
        """Every shadow profile stored with the newest snapshot (or the newest at or before `at`),
        compared with that snapshot's active ranking."""
        async with self._pool.transaction() as conn:
            run = await (newest_run(conn) if at is None else run_at_or_before(conn, at))
            if run is None:
                raise ApiError(404, "no_snapshot",
                               "no trending snapshot has been committed" + ("" if at is None else f" at or before {at}"))
            compared = await stored_comparisons(conn, run, self._active_min_authors(run))
        return ProfileComparisons(
            run.window_end,
            ProfileRef(run.score_profile or "unrecorded", run.score_fingerprint, True),
            tuple(
                ProfileComparison(c.profile, fingerprint, c.overlap_top10, c.overlap_top50, c.kendall_tau,
                                  c.entering_top10, c.leaving_top10)
                for fingerprint, c in compared
            ),
        )

    async def posts(self, topic_ids: Sequence[str] | None = None, per_topic: int = DEFAULT_PER_TOPIC) -> TrendingPosts:
        """Per topic (default: the current top 10), its top `min(per_topic, posts_24h)` posts of W24."""
        in_range("per_topic", per_topic, 1, MAX_PER_TOPIC)
        async with self._view() as (conn, view):
            if topic_ids is None:
                topic_ids = [row.topic_id for row, _ in await _listed_rows(conn, view.ranking, DEFAULT_LIMIT)]
            rows = await view.rows(conn, topic_ids)
            names = await topics_by_id(conn, topic_ids)
            caps = {t: min(per_topic, rows[t].posts_24h if t in rows else 0) for t in topic_ids}
            listed = [t for t in topic_ids if caps[t] > 0]
            try:
                posts = await posts_for(conn, view.boundary, listed, max((caps[t] for t in listed), default=0))
            except sqlite3.Error as exc:
                raise AppDatabaseUnavailable(f"cannot read kukuri's posts: {exc}") from exc
        groups = tuple(
            TopicPosts(t, names[t].name if t in names else None, rows[t].posts_24h if t in rows else 0,
                       posts.get(t, ())[:caps[t]])
            for t in topic_ids
        )
        return TrendingPosts(view.boundary, view.data_source, view.stale, groups)

    async def history(self, topic_ids: Sequence[str] | None = None) -> ScoreHistory:
        """`score_24h` of these topics (default: the current top 10) over every retained snapshot."""
        if topic_ids is None:
            topic_ids = [t.topic_id for t in (await self.topics()).topics]
        async with self._pool.transaction() as conn:
            ends = await run_window_ends(conn)
            series = await score_series(conn, topic_ids)
        return ScoreHistory(
            tuple(ends),
            tuple(TopicHistory(t, tuple(series[t].get(end, 0.0) for end in ends)) for t in topic_ids),
        )

    async def health(self) -> Health:
        now = self._clock()
        async with self._pool.transaction() as conn:
            run = await newest_run(conn)
        status: HealthStatus
        if not self._metrics_enabled:
            status = "disabled"  # healthy by design: no snapshot is expected, answers are computed live
        elif run is None:
            status = "missing"
        else:
            status = "stale" if self._stale(run, now) else "ok"
        source: DataSource | None = None if self._metrics_enabled else "fallback"
        if run is None:
            return Health(status, None, None, None, None, self._stale_after_ms, self._metrics_enabled, source)
        return Health(status, run.window_end, run.finished_at, run.source, now - run.window_end,
                      self._stale_after_ms, self._metrics_enabled, source)

    async def feed_version(self) -> FeedVersion:
        """Changes whenever `topics()` may answer differently: a commit, going stale, a new live E."""
        now = self._clock()
        async with self._pool.transaction() as conn:
            run = await newest_run(conn)
        if not self._metrics_enabled:
            # Live numbers per boundary; the snapshot and its staleness matter only when they cannot be computed.
            return ("live", align_down(now, self._interval_ms), run, run is not None and self._stale(run, now))
        if run is not None and not self._stale(run, now):
            return ("metrics", run.window_end, run.finished_at)
        return ("fallback", align_down(now, self._interval_ms), run)

    async def _ranked_topics(self, conn: aiosqlite.Connection, view: _View, limit: int) -> tuple[TrendingTopic, ...]:
        """The first `limit` listed rows with their score change and previous rank."""
        picked = await _listed_rows(conn, view.ranking, limit)
        before, previous_ranks, reason = await self._previous(conn, view, [row.topic_id for row, _ in picked])
        return tuple(
            _topic(rank, row, info, before.get(row.topic_id), previous_ranks.get(row.topic_id), reason)
            for rank, (row, info) in enumerate(picked, start=1)
        )

    async def _previous(
        self, conn: aiosqlite.Connection, view: _View, topic_ids: Sequence[str]
    ) -> tuple[dict[str, float], dict[str, int], ScoreChangeReason | None]:
        """The topics' `score_24h` and rank in the previous snapshot under the view's profile
        fingerprint, or why there are none for any topic."""
        previous = await previous_run(conn, view.boundary)
        if previous is None:
            return {}, {}, "no_previous_snapshot"
        found = await scores_for_fingerprint(conn, previous, view.fingerprint, topic_ids)
        ranking = self._ranking_with(previous, view.fingerprint)
        if found is None or ranking is None:
            return {}, {}, "profile_changed"
        if not found:
            return found, {}, None
        listed = await _listed_rows(conn, ranking, PREVIOUS_RANK_DEPTH)
        return found, {row.topic_id: rank for rank, (row, _) in enumerate(listed, start=1) if row.topic_id in found}, None

    def _ranking_with(self, run: Run, fingerprint: str | None) -> CommittedRanking | None:
        """The ranking of `run`'s snapshot scored with `fingerprint`: its active one, or that of the
        shadow stored with this fingerprint; None when the snapshot did not compute it."""
        if run.score_fingerprint == fingerprint:
            return self._rankings.get(run, min_authors=self._active_min_authors(run))
        shadow = next((name for name, stored in run.score_shadows if stored == fingerprint), None)
        return None if shadow is None else self._rankings.get(run, shadow)

    def _active_min_authors(self, run: Run) -> int:
        """The `min_authors` of the profile that wrote `run`'s `topic_metrics` scores."""
        return min_authors_of(run.score_fingerprint, self._profiles.defined.values())

    def _stale(self, run: Run, now: int) -> bool:
        return now - run.window_end > self._stale_after_ms

    @asynccontextmanager
    async def _view(self, shadow: str | None = None) -> AsyncIterator[tuple[aiosqlite.Connection, _View]]:
        """A read transaction and the snapshot to answer from (see the module docstring), ranked by
        the active profile or the shadow profile `shadow`."""
        now = self._clock()
        run: Run | None = None
        if self._metrics_enabled:
            async with self._pool.transaction() as conn:
                run = await newest_run(conn)
                if run is not None and not self._stale(run, now):
                    yield conn, self._committed(run, shadow, "metrics", False)
                    return
        # The recompute reads a day of facts: do not hold a read transaction open meanwhile.
        live: LiveRanking | None
        try:
            live = await self._fallback.ranking(align_down(now, self._interval_ms))
        except FallbackFailed:
            live = None
        async with self._pool.transaction() as conn:
            if live is not None:
                stale = self._metrics_enabled and run is not None
                if shadow is None:
                    yield conn, _View(live, "fallback", stale, self._profiles.active.fingerprint)
                else:
                    fingerprint = self._profiles.defined[shadow].fingerprint
                    yield conn, _View(live.for_profile(shadow), "fallback", stale, fingerprint)
                return
            run = await newest_run(conn)
            if run is None:
                raise MetricsUnavailable("no trending snapshot has been committed and the app database cannot be read")
            yield conn, self._committed(run, shadow, "metrics", self._stale(run, now))

    def _committed(
        self, run: Run, shadow: str | None, source: DataSource, stale: bool
    ) -> _View:
        if shadow is None:
            ranking = self._rankings.get(run, min_authors=self._active_min_authors(run))
            return _View(ranking, source, stale, run.score_fingerprint)
        fingerprint = dict(run.score_shadows).get(shadow)
        if fingerprint is None:
            raise ApiError(
                404, "profile_not_computed",
                f"snapshot {run.window_end} holds no scores of profile {shadow!r} (it was added after that "
                "snapshot, or the workers that wrote it did not all compute it)",
            )
        return _View(self._rankings.get(run, shadow), source, stale, fingerprint)


async def _listed_rows(
    conn: aiosqlite.Connection, ranking: RankedRows, limit: int
) -> list[tuple[TopicMetrics, TopicInfo]]:
    """The first `limit` rows of a ranking whose topic exists in `topics`: what `rank` numbers."""
    picked: list[tuple[TopicMetrics, TopicInfo]] = []
    offset = 0
    while len(picked) < limit:
        page = await ranking.page(conn, offset, 2 * (limit - len(picked)))
        if not page:
            break
        offset += len(page)
        info = await topics_by_id(conn, [row.topic_id for row in page])
        picked.extend((row, info[row.topic_id]) for row in page if row.topic_id in info)
    return picked[:limit]


def _topic(
    rank: int, row: TopicMetrics, info: TopicInfo, previous_score: float | None, previous_rank: int | None,
    reason: ScoreChangeReason | None,
) -> TrendingTopic:
    if previous_score is None and reason is None:
        reason = "new_topic"  # the previous snapshot computed this profile, but had no row for the topic
    return TrendingTopic(
        topic_id=row.topic_id,
        name=info.name,
        description=info.description,
        member_count=info.member_count,
        post_count=info.post_count,
        trending_score=row.score_24h,
        score_6h=row.score_6h,
        rank=rank,
        score_change=None if previous_score is None else row.score_24h - previous_score,
        posts_24h=row.posts_24h,
        posts_6h=row.posts_6h,
        unique_authors=row.unique_authors,
        boosts=row.boosts,
        replies=row.replies,
        bookmarks=row.bookmarks,
        participant_delta=row.participant_delta,
        score_change_reason=None if previous_score is not None else reason,
        previous_rank=previous_rank,
    )


@asynccontextmanager
async def open_reader(settings: Settings) -> AsyncIterator[TrendingReader]:
    reader = TrendingReader(settings, pool_size=1)
    try:
        yield reader
    finally:
        await reader.close()


async def list_trending_topics(
    settings: Settings, limit: int = DEFAULT_LIMIT, profile: str | None = None
) -> TrendingTopics:
    """The trending topics of `settings.database.path`, without an HTTP server."""
    async with open_reader(settings) as reader:
        return await reader.topics(limit, profile)


async def compare_profiles(settings: Settings, at: int | None = None) -> ProfileComparisons:
    """The shadow profiles of the newest snapshot (or the newest at or before `at`) against the active one."""
    async with open_reader(settings) as reader:
        return await reader.compare(at)


async def list_trending_posts(
    settings: Settings, topic_ids: Sequence[str] | None = None, per_topic: int = DEFAULT_PER_TOPIC
) -> TrendingPosts:
    """Trending posts per topic (default: the current top 10), without an HTTP server."""
    async with open_reader(settings) as reader:
        return await reader.posts(topic_ids, per_topic)
