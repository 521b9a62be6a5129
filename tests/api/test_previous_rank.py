"""`previous_rank` through the real HTTP server: the rank each listed topic had in the previous
snapshot's ranking of the same profile fingerprint, counted as `rank` is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from api.queries import PREVIOUS_RANK_DEPTH
from streams.events import Event
from streams.metrics import CountsByWindow, Snapshot, WindowCounts, build_snapshot
from streams.windows import W6, W24, WPREV, window_set
from tests.api.conftest import Api, serving
from tests.api.support import add_facts, boundary, commit, commit_scored, create_db, row
from tests.api.test_profiles import commit as commit_profiles
from tests.api.test_profiles import write_config

pytestmark = pytest.mark.integration

DEPTH = PREVIOUS_RANK_DEPTH


def listed_order(rows: list, present: set[str]) -> list[str]:
    """The API's order of a snapshot's rows, topics missing from `topics` left out."""
    ordered = sorted(rows, key=lambda r: (-r.score_24h, -r.score_6h, -r.posts_24h, r.topic_id))
    return [r.topic_id for r in ordered if r.topic_id in present]


async def test_previous_rank_is_counted_like_rank_down_to_its_depth(api: Api) -> None:
    rng = random.Random(12)
    topics = [f"t{i:03d}" for i in range(320)]
    present = {t for t in topics if rng.random() > 0.15}  # the rest are missing from `topics`
    await create_db(api.db, sorted(present))
    previous, e = boundary(5), boundary()
    # Scores repeat, so the order's later keys (score_6h, posts_24h, topic_id) decide ties.
    before = [row(t, previous, float(rng.randint(1, 60)), score_6h=float(rng.randint(0, 2)),
                  posts_24h=rng.randint(1, 3)) for t in topics[:300]]
    now = [row(t, e, float(rng.randint(1, 60)), posts_24h=2) for t in topics]  # t300.. are new
    await commit(api.db, previous, before)
    await commit(api.db, e, now)

    body = await api.get("/api/trending/topics", "limit=100")

    was = {topic: rank for rank, topic in enumerate(listed_order(before, present), start=1)}
    shown = {t["topic_id"]: t["previous_rank"] for t in body["topics"]}
    assert shown == {topic: was[topic] if was.get(topic, DEPTH + 1) <= DEPTH else None for topic in shown}
    # Below the depth the rank is not looked for: null, with the score change still there.
    deep = [t for t in body["topics"] if was.get(t["topic_id"], 0) > DEPTH]
    assert deep and all(t["previous_rank"] is None and t["score_change"] is not None for t in deep)
    assert {t["score_change_reason"] for t in body["topics"] if t["previous_rank"] is None} <= {"new_topic", None}


async def test_unchanged_snapshots_give_every_topic_its_own_rank_back(api: Api) -> None:
    await create_db(api.db, ["a", "b", "c", "d"])
    previous, e = boundary(5), boundary()
    for end in (previous, e):
        await commit(api.db, end, [row("a", end, 3.0), row("b", end, 3.0, score_6h=1.0), row("c", end, 1.0),
                                   row("d", end, 1.0, posts_24h=2)])
    body = await api.get("/api/trending/topics")
    assert [(t["rank"], t["previous_rank"]) for t in body["topics"]] == [(1, 1), (2, 2), (3, 3), (4, 4)]


async def test_previous_rank_is_null_exactly_where_there_is_no_comparable_rank(api: Api) -> None:
    await create_db(api.db, ["old", "new"])
    previous, e = boundary(5), boundary()
    await commit(api.db, previous, [row("old", previous, 1.0)])
    first = await api.get("/api/trending/topics")
    assert [(t["previous_rank"], t["score_change_reason"]) for t in first["topics"]] == [
        (None, "no_previous_snapshot")]
    await commit(api.db, e, [row("new", e, 5.0), row("old", e, 2.0)])
    body = await api.get("/api/trending/topics")
    assert [(t["topic_id"], t["previous_rank"], t["score_change_reason"]) for t in body["topics"]] == [
        ("new", None, "new_topic"), ("old", 1, None)]


async def test_a_shadow_profile_gets_its_own_previous_ranks(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "default", ["boosty", "strict"])
    await create_db(settings.database.path, ["busy", "boosted", "quiet", "small"])
    await commit_profiles(settings, boundary(5))
    await commit_profiles(settings, boundary(), extra=1)
    async with serving(settings) as api:
        boosty = await api.get("/api/trending/topics", "profile=boosty")
        strict = await api.get("/api/trending/topics", "profile=strict")
    assert [(t["topic_id"], t["previous_rank"]) for t in boosty["topics"]] == [
        ("boosted", 1), ("busy", 2), ("quiet", 3), ("small", 4)]
    # strict ranks "small" in neither snapshot (one author), so it is not listed at all.
    assert [(t["topic_id"], t["previous_rank"]) for t in strict["topics"]] == [("busy", 1), ("boosted", 2), ("quiet", 3)]
    # strict made active: its previous ranking was the shadow's, and as the active profile it still
    # leaves "small" (one author) out of its list, though `topic_metrics` keeps the row.
    switched_config = write_config(tmp_path, "strict", [])
    await commit_profiles(switched_config, boundary() + 5 * 60_000)
    async with serving(switched_config) as api:
        switched = await api.get("/api/trending/topics")
    assert [(t["topic_id"], t["previous_rank"], t["score_change_reason"]) for t in switched["topics"]] == [
        ("busy", 1, None), ("boosted", 2, None), ("quiet", 3, None)]


async def test_a_profile_the_previous_snapshot_did_not_compute_has_no_previous_rank(tmp_path: Path) -> None:
    before = write_config(tmp_path, "default", ["boosty"])
    await create_db(before.database.path, ["busy", "boosted"])
    await commit_profiles(before, boundary(5))
    fresh = write_config(tmp_path, "strict", [])
    await commit_profiles(fresh, boundary())
    async with serving(fresh) as api:
        switched = await api.get("/api/trending/topics")
    assert {(t["previous_rank"], t["score_change_reason"]) for t in switched["topics"]} == {(None, "profile_changed")}


async def test_the_live_fallback_ranks_against_the_last_committed_snapshot(api: Api) -> None:
    await create_db(api.db, ["rust", "nostr"])
    old = boundary(45)  # stale: the answer is computed live
    await commit(api.db, old, [row("rust", old, 9.0), row("nostr", old, 1.0)])
    now = boundary()
    await add_facts(api.db, [Event("p1", "post", "nostr", "alice", now - 60_000),
                             Event("p2", "post", "nostr", "bob", now - 90_000),
                             Event("p3", "post", "rust", "carol", now - 120_000)])
    body = await api.get("/api/trending/topics")
    assert (body["data_source"], body["stale"]) == ("fallback", True)
    assert [(t["topic_id"], t["rank"], t["previous_rank"]) for t in body["topics"]] == [
        ("nostr", 1, 2), ("rust", 2, 1)]


async def test_the_profiles_endpoint_lists_what_the_deployment_computes(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "boosty", ["rising", "default"])
    async with serving(settings) as api:
        body = await api.get("/api/trending/profiles")
        assert (await api.get("/api/trending/profiles", "x=1", status=400))["error"]["code"] == "unknown_parameter"
    defined = settings.metrics.profiles.defined
    assert body == [
        {"name": "boosty", "fingerprint": defined["boosty"].fingerprint, "formula": "linear", "active": True},
        {"name": "rising", "fingerprint": defined["rising"].fingerprint, "formula": "rising", "active": False},
        {"name": "default", "fingerprint": defined["default"].fingerprint, "formula": "linear", "active": False},
    ]


async def test_a_shadow_profiles_previous_ranks_are_counted_in_its_stored_ranking(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "default", ["boosty", "strict"])
    rng = random.Random(5)
    topics = [f"s{i:03d}" for i in range(400)]
    present = {t for t in topics if rng.random() > 0.1}
    await create_db(settings.database.path, sorted(present))
    computed = settings.metrics.profiles.computed

    async def write(e: int) -> Snapshot:
        counts: CountsByWindow = {W24.name: {}, W6.name: {}, WPREV.name: {}}
        for topic in topics:
            authors = rng.randint(1, 4)
            counts[W24.name][topic] = WindowCounts(rng.randint(1, 30), 0, rng.randint(0, 30), 0, authors, authors)  # type: ignore[index]
        snap = build_snapshot(e, counts, computed, windows=window_set(), updated_at=0)
        await commit_scored(settings, snap)
        return snap

    before = await write(boundary(5))
    posts = {r.topic_id: r.posts_24h for r in before.rows}
    await write(boundary())
    async with serving(settings) as api:
        for profile in ("boosty", "strict"):
            body = await api.get("/api/trending/topics", f"limit=100&profile={profile}")
            stored = sorted(
                (r for r in before.profile_rows if r.profile == profile and r.ranked and r.topic_id in present),
                key=lambda r: (-r.score_24h, -r.score_6h, -posts[r.topic_id], r.topic_id))
            was = {r.topic_id: rank for rank, r in enumerate(stored, start=1)}
            shown = {t["topic_id"]: t["previous_rank"] for t in body["topics"]}
            assert shown == {topic: was[topic] if was.get(topic, DEPTH + 1) <= DEPTH else None
                             for topic in shown}, profile
            assert any(rank > DEPTH for topic, rank in was.items() if topic in shown), profile
