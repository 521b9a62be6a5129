"""The library API: the same answers as HTTP, as typed results, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import TrendingPosts, TrendingTopics, list_trending_posts, list_trending_topics
from api.errors import ApiError
from streams.events import Event
from tests.api.support import add_facts, boundary, commit, create_db, row, settings_for

pytestmark = pytest.mark.integration


async def test_list_trending_topics_returns_typed_results(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "kukuri.db", ["a", "b", "c"])
    e = boundary()
    await commit(db, e, [row("a", e, 1.0), row("b", e, 3.0), row("c", e, 2.0)])

    result = await list_trending_topics(settings_for(db), limit=2)

    assert isinstance(result, TrendingTopics)
    assert (result.generated_at, result.data_source, result.stale) == (e, "metrics", False)
    assert [(t.topic_id, t.rank, t.trending_score) for t in result.topics] == [("b", 1, 3.0), ("c", 2, 2.0)]


async def test_list_trending_posts_returns_typed_results(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "kukuri.db", ["a"])
    e = boundary()
    await add_facts(db, [Event("p1", "post", "a", "alice", e - 60_000), Event("p2", "post", "a", "bob", e - 120_000)])
    await commit(db, e, [row("a", e, 1.2, posts_24h=2)])

    result = await list_trending_posts(settings_for(db), ["a"], per_topic=1)

    assert isinstance(result, TrendingPosts)
    (group,) = result.topics
    assert [(p.event_id, p.author, p.relative_rank) for p in group.posts] == [("p1", "alice", 1)]


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_bad_limit_raises_an_api_error(tmp_path: Path, limit: int) -> None:
    db = await create_db(tmp_path / "kukuri.db")

    with pytest.raises(ApiError) as raised:
        await list_trending_topics(settings_for(db), limit=limit)

    assert (raised.value.status, raised.value.code) == (400, "invalid_limit")
