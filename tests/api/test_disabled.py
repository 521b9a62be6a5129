"""`metrics.enabled = false`: the job writes no snapshots, so the API serves live numbers without
calling them stale, `/healthz` says `disabled` with a 200, and the feed sends a snapshot per boundary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from api.models import round_score
from api.params import DEFAULT_PER_TOPIC
from api.queries import TrendingReader
from config.settings import Settings
from tests.api.conftest import Api, serving
from tests.api.support import (
    INTERVAL_MS,
    add_facts,
    assert_feed_message,
    boundary,
    commit,
    create_db,
    execute,
    row,
    settings_for,
)
from tests.api.test_fallback import away_from_a_boundary, recent_facts
from tests.fixtures.app_db import expected_snapshot

pytestmark = pytest.mark.integration


def disabled(db: Path) -> Settings:
    settings = settings_for(db)
    return replace(settings, metrics=replace(settings.metrics, enabled=False))


@pytest.fixture
async def api_disabled(tmp_path: Path) -> AsyncIterator[Api]:
    async with serving(disabled(tmp_path / "kukuri.db")) as served:
        yield served


async def snapshot_minutes_ago(db: Path, minutes: int | None) -> int | None:
    """A committed snapshot `minutes` old (None: none) whose numbers differ from the live ones."""
    if minutes is None:
        return None
    end = boundary(minutes)
    await commit(db, end, [row("a", end, 50.0), row("b", end, 1.0)])
    return end


def assert_live_numbers(topics: list[dict[str, Any]], expected: dict[str, dict[str, Any]]) -> None:
    for topic in topics:
        want = expected[topic["topic_id"]]
        assert topic["trending_score"] == round_score(want["score_24h"])
        assert (topic["posts_24h"], topic["posts_6h"], topic["unique_authors"], topic["boosts"], topic["replies"]) == (
            want["posts_24h"], want["posts_6h"], want["unique_authors"], want["boosts"], want["replies"],
        )


@pytest.mark.parametrize("snapshot_age", [None, 0, 30], ids=["no snapshot", "fresh snapshot", "stale snapshot"])
async def test_answers_are_the_live_numbers_and_never_stale(api_disabled: Api, snapshot_age: int | None) -> None:
    await away_from_a_boundary()
    await create_db(api_disabled.db, ["a", "b", "c"])
    await snapshot_minutes_ago(api_disabled.db, snapshot_age)
    facts = recent_facts()
    await add_facts(api_disabled.db, facts)

    topics = await api_disabled.get("/api/trending/topics")
    posts = await api_disabled.get("/api/trending/posts", "topic_ids=b,c")

    e = boundary()
    expected, _ = expected_snapshot(facts, e)
    assert (topics["generated_at"], topics["data_source"], topics["stale"]) == (e, "fallback", False)
    assert [t["topic_id"] for t in topics["topics"]] == ["b", "c"]  # the snapshot's "a" is not live
    assert_live_numbers(topics["topics"], expected)
    assert (posts["generated_at"], posts["data_source"], posts["stale"]) == (e, "fallback", False)
    assert [len(group["posts"]) for group in posts["topics"]] == [
        min(DEFAULT_PER_TOPIC, expected[t]["posts_24h"]) for t in ("b", "c")]


async def test_health_is_200_disabled_whatever_the_snapshots(api_disabled: Api) -> None:
    await create_db(api_disabled.db, ["a", "b"])
    nothing = await api_disabled.get("/healthz")
    old_end = await snapshot_minutes_ago(api_disabled.db, 45)
    old = await api_disabled.get("/healthz")

    for body in (nothing, old):
        assert (body["status"], body["metrics_enabled"], body["data_source"]) == ("disabled", False, "fallback")
        assert "error" not in body
    assert nothing["last_snapshot"] is None
    assert (old["last_snapshot"], old["age_ms"] > 15 * 60_000) == (old_end, True)


async def test_an_unreadable_app_database_serves_the_newest_snapshot_with_its_real_staleness(
    api_disabled: Api,
) -> None:
    await create_db(api_disabled.db, ["a", "b"])
    await execute(api_disabled.db, "DROP TABLE events")
    none = await api_disabled.get("/api/trending/topics", status=503)
    fresh_end = boundary()
    await commit(api_disabled.db, fresh_end, [row("a", fresh_end, 5.0), row("b", fresh_end, 1.0)])
    fresh = await api_disabled.get("/api/trending/topics")

    assert none["error"]["code"] == "metrics_unavailable"
    assert (fresh["generated_at"], fresh["data_source"], fresh["stale"]) == (fresh_end, "metrics", False)
    assert [t["topic_id"] for t in fresh["topics"]] == ["a", "b"]


async def test_a_stale_snapshot_served_instead_says_it_is_stale(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "k.db", ["a"])
    old = boundary(60)
    await commit(db, old, [row("a", old, 1.0)])
    await execute(db, "DROP TABLE events")
    reader = TrendingReader(disabled(db))
    try:
        result = await reader.topics()
    finally:
        await reader.close()
    assert (result.generated_at, result.data_source, result.stale) == (old, "metrics", True)


async def test_the_feed_sends_the_live_snapshot(api_disabled: Api) -> None:
    await away_from_a_boundary()
    await create_db(api_disabled.db, ["a", "b", "c"])
    await snapshot_minutes_ago(api_disabled.db, 30)
    await add_facts(api_disabled.db, recent_facts())
    topics = await api_disabled.get("/api/trending/topics")

    async with api_disabled.session.ws_connect(f"{api_disabled.server.url}/api/trending/stream") as ws:
        message = await ws.receive(timeout=5.0)
    body = json.loads(message.data)

    assert_feed_message(body)
    assert body == {"type": "snapshot", **topics}
    assert (body["data_source"], body["stale"]) == ("fallback", False)


async def test_the_feed_version_is_the_current_boundary(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "k.db", ["a"])
    e = boundary(60)
    clock = [e + 1_000]
    reader = TrendingReader(disabled(db), clock=lambda: clock[0])
    try:
        first = await reader.feed_version()
        clock[0] = e + INTERVAL_MS - 1
        same_boundary = await reader.feed_version()
        clock[0] = e + INTERVAL_MS
        next_boundary = await reader.feed_version()
        await commit(db, e, [row("a", e, 1.0)])  # a snapshot does not replace the live numbers
        committed = await reader.feed_version()
    finally:
        await reader.close()
    assert first == same_boundary != next_boundary
    assert committed[:2] == next_boundary[:2] == ("live", e + INTERVAL_MS)
