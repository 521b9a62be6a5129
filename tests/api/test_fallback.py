"""Freshness: stale or missing metrics are replaced by live numbers from the app tables, and an
unreadable app database still gets the stale snapshot (docs/api.md, "Which numbers an answer uses")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from api import fallback as fallback_module
from api.fallback import FallbackFailed, LiveFallback
from api.models import round_score
from api.queries import TrendingReader, list_trending_topics
from appdb.recompute import recompute_snapshot
from config.settings import ScoreWeights
from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, write_facts
from sinks.storage.snapshots import now_ms
from streams.events import Event
from streams.scoring import DEFAULT, ScoreProfile
from tests.api.conftest import Api
from tests.api.support import INTERVAL_MS, add_facts, boundary, commit, create_db, execute, row, settings_for
from tests.fixtures.app_db import build_app_db, expected_snapshot, recent_boundary
from tests.fixtures.app_db import settings_for as app_settings

pytestmark = pytest.mark.integration

MINUTE = 60_000


async def away_from_a_boundary() -> None:
    """Sleep past the next boundary if it is near, so a test sees one fallback boundary throughout."""
    left = INTERVAL_MS - now_ms() % INTERVAL_MS
    if left < 5_000:
        await asyncio.sleep(left / 1000 + 0.2)


def recent_facts() -> list[Event]:
    now = now_ms()
    return [
        Event("p1", "post", "b", "alice", now - 60 * MINUTE),
        Event("p2", "post", "b", "bob", now - 50 * MINUTE),
        Event("p3", "reply", "b", "carol", now - 40 * MINUTE, "p1"),
        Event("x1", "boost", "b", "dave", now - 30 * MINUTE, "p1"),
        Event("p4", "post", "c", "erin", now - 20 * MINUTE),
        Event("p9", "post", "ghost", "erin", now - 20 * MINUTE),  # a topic unknown to `topics`
    ]


async def test_stale_metrics_are_replaced_by_live_numbers_and_flagged_stale(api: Api) -> None:
    await away_from_a_boundary()
    old = boundary(30)
    await create_db(api.db, ["a", "b", "c"])
    await commit(api.db, old, [row("a", old, 5.0), row("b", old, 1.0)])
    facts = recent_facts()
    await add_facts(api.db, facts)

    body = await api.get("/api/trending/topics")

    e = boundary()
    expected, _ = expected_snapshot(facts, e)
    assert (body["generated_at"], body["data_source"], body["stale"]) == (e, "fallback", True)
    assert [t["topic_id"] for t in body["topics"]] == ["b", "c"]  # "a" has no live fact, "ghost" no topics row
    for topic in body["topics"]:
        want = expected[topic["topic_id"]]
        assert topic["trending_score"] == round_score(want["score_24h"])
        assert (topic["posts_24h"], topic["posts_6h"], topic["unique_authors"], topic["boosts"], topic["replies"]) == (
            want["posts_24h"], want["posts_6h"], want["unique_authors"], want["boosts"], want["replies"],
        )
    # The change is against the newest committed snapshot before E: the stale one.
    changes = {t["topic_id"]: t["score_change"] for t in body["topics"]}
    assert changes == {"b": round_score(expected["b"]["score_24h"] - 1.0), "c": None}


async def test_missing_metrics_fall_back_without_the_stale_flag(api: Api) -> None:
    await away_from_a_boundary()
    await create_db(api.db, ["b", "c"])
    await add_facts(api.db, recent_facts())

    body = await api.get("/api/trending/topics")

    assert (body["generated_at"], body["data_source"], body["stale"]) == (boundary(), "fallback", False)
    assert [t["topic_id"] for t in body["topics"]] == ["b", "c"]


async def test_the_fallback_is_computed_once_per_boundary_for_concurrent_requests(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await away_from_a_boundary()
    old = boundary(60)
    await create_db(api.db, ["b", "c"])
    await commit(api.db, old, [row("b", old, 1.0)])
    await add_facts(api.db, recent_facts())
    boundaries: list[int] = []

    async def counting(app_db: Path, at: int, weights: object, **kwargs: object) -> object:
        boundaries.append(at)
        await asyncio.sleep(0.2)  # keep the first recompute in flight while the others arrive
        return await recompute_snapshot(app_db, at, weights, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fallback_module, "recompute_snapshot", counting)

    bodies = await asyncio.gather(*(api.get("/api/trending/topics") for _ in range(20)))
    later = await api.get("/api/trending/posts", "topic_ids=b")

    assert boundaries == [boundary()]
    assert all(b == bodies[0] for b in bodies)
    assert later["generated_at"] == bodies[0]["generated_at"]


async def test_an_unreadable_app_database_serves_the_stale_snapshot(api: Api) -> None:
    old = boundary(40)
    await create_db(api.db, ["a", "b"])
    await commit(api.db, old, [row("a", old, 5.0), row("b", old, 1.0)])
    await execute(api.db, "DROP TABLE events")  # kukuri's facts can no longer be read

    body = await api.get("/api/trending/topics")

    assert (body["generated_at"], body["data_source"], body["stale"]) == (old, "metrics", True)
    assert [t["topic_id"] for t in body["topics"]] == ["a", "b"]
    posts = await api.get("/api/trending/posts", status=503)
    assert posts["error"]["code"] == "app_database_unavailable"


async def test_no_snapshot_and_no_app_database_is_a_503(api: Api) -> None:
    await create_db(api.db, ["a"])
    await execute(api.db, "DROP TABLE events")

    body = await api.get("/api/trending/topics", status=503)

    assert body["error"]["code"] == "metrics_unavailable"


async def test_fresh_metrics_never_touch_the_app_tables(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a"])
    await commit(api.db, e, [row("a", e, 1.0)])
    await execute(api.db, "DROP TABLE events")

    body = await api.get("/api/trending/topics")

    assert (body["data_source"], body["stale"]) == ("metrics", False)


async def test_a_snapshot_exactly_at_the_staleness_limit_is_still_fresh(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "k.db", ["a"])
    e = boundary(60)
    await commit(db, e, [row("a", e, 1.0)])
    limit = 15 * MINUTE
    at_limit = TrendingReader(settings_for(db), clock=lambda: e + limit)
    past_limit = TrendingReader(settings_for(db), clock=lambda: e + limit + 1)
    try:
        assert (await at_limit.health()).status == "ok"
        assert (await at_limit.topics()).data_source == "metrics"
        assert (await past_limit.health()).status == "stale"
        assert (await past_limit.topics()).stale is True
    finally:
        await at_limit.close()
        await past_limit.close()


async def test_a_failed_recompute_is_retried_after_a_while_not_on_every_request(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "k.db", ["b"])
    await execute(db, "DROP TABLE events")
    clock = [0.0]
    fallback = LiveFallback(db, ScoreWeights(), retry_after_seconds=10.0, monotonic=lambda: clock[0])
    e = boundary()
    try:
        with pytest.raises(FallbackFailed):
            await fallback.ranking(e)
        await add_facts_table_back(db)
        with pytest.raises(FallbackFailed):  # still inside the retry period: not recomputed
            await fallback.ranking(e)
        clock[0] = 10.0
        assert [r.topic_id for r in (await fallback.ranking(e)).rows] == ["b"]
    finally:
        await fallback.close()


async def add_facts_table_back(db: Path) -> None:
    conn = await connect_writer(db)
    try:
        await ensure_kukuri_tables(conn)
        await write_facts(conn, [Event("p1", "post", "b", "alice", now_ms() - 10 * MINUTE)])
    finally:
        await conn.close()



async def test_an_app_database_kukuri_trending_never_migrated_falls_back(tmp_path: Path) -> None:
    """Before the first worker start there are no trending tables at all: compute live, do not fail."""
    e = recent_boundary()
    db = await build_app_db(tmp_path / "kukuri.db", [Event("p1", "post", "rust", "alice", e - 3_600_000)],
                            migrated=False, topics=["rust"])
    result = await list_trending_topics(app_settings(db), 5)
    assert result.data_source == "fallback" and not result.stale
    assert [t.topic_id for t in result.topics] == ["rust"] and result.topics[0].score_change is None


async def test_the_live_ranking_leaves_out_what_the_active_profile_does_not_rank(tmp_path: Path) -> None:
    """An active profile with `min_authors` lists only topics with that many authors, live too."""
    db = tmp_path / "kukuri.db"
    await create_db(db, ["b", "c"])
    await add_facts(db, recent_facts())
    strict = ScoreProfile("strict", min_authors=2)
    ranking = await LiveFallback(db, (strict, DEFAULT)).ranking(boundary())
    assert [r.topic_id for r in ranking.rows] == ["b"]  # "c" and "ghost" have one author each
    # The default shadow ranks every topic (the API leaves out "ghost" later: no `topics` row).
    assert [r.topic_id for r in ranking.for_profile("default").rows] == ["b", "c", "ghost"]
