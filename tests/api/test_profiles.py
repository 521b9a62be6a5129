"""Score profiles through the real HTTP server: `?profile=NAME`, `score_change` across a profile
switch, and the comparison endpoint, over snapshots written by the real sink into a SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import Settings, load_settings
from streams.events import Event
from streams.metrics import CountsByWindow, Snapshot, WindowCounts, build_snapshot
from streams.profile_comparison import compare_rankings
from streams.scoring import ScoreProfile
from streams.windows import W6, W24, WPREV, window_set
from tests.api.conftest import Api, serving
from tests.api.support import boundary, commit_scored, create_db
from tests.fixtures.app_db import add_facts

pytestmark = pytest.mark.integration

TOPICS = ("busy", "boosted", "quiet", "small")
# (posts, unique_authors, boosts) in the 24 h window: the default ranks busy first, boosty boosted.
ACTIVITY = {"busy": (20, 8, 0), "boosted": (4, 2, 40), "quiet": (2, 2, 1), "small": (1, 1, 0)}


def write_config(tmp_path: Path, active: str, shadows: list[str]) -> Settings:
    config = tmp_path / f"{active}.toml"
    config.write_text(
        f'[metrics]\nscore_profile = "{active}"\nshadow_profiles = {shadows!r}\n'.replace("'", '"')
        + '[metrics.score_profiles.boosty]\nboosts = 1.0\nposts = 0.1\n'
        + '[metrics.score_profiles.strict]\nmin_authors = 2\n'
        + f'[database]\npath = "{tmp_path / "kukuri.db"}"\n'
    )
    return load_settings(config, environ={})


def snapshot(e: int, profiles: tuple[ScoreProfile, ...], extra: int = 0) -> Snapshot:
    counts: CountsByWindow = {W24.name: {}, W6.name: {}, WPREV.name: {}}
    for topic, (posts, authors, boosts) in ACTIVITY.items():
        c = WindowCounts(posts + extra, 0, boosts + extra, 0, authors, authors)
        counts[W24.name][topic] = counts[W6.name][topic] = c  # type: ignore[index]
    return build_snapshot(e, counts, profiles, windows=window_set(), updated_at=0)


async def commit(settings: Settings, e: int, extra: int = 0) -> Snapshot:
    snap = snapshot(e, settings.metrics.profiles.computed, extra)
    await commit_scored(settings, snap)
    return snap


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Api, Settings]]:
    settings = write_config(tmp_path, "default", ["boosty", "strict"])
    await create_db(settings.database.path, TOPICS)
    async with serving(settings) as api:
        yield api, settings


async def test_a_shadow_profile_ranks_the_list_with_its_own_scores(served: tuple[Api, Settings]) -> None:
    api, settings = served
    previous, e = boundary(5), boundary()
    await commit(settings, previous)
    snap = await commit(settings, e, extra=1)

    default = await api.get("/api/trending/topics")
    assert "profile" not in default
    assert [t["topic_id"] for t in default["topics"]][:2] == ["busy", "boosted"]

    body = await api.get("/api/trending/topics", "profile=boosty")
    boosty = settings.metrics.profiles.defined["boosty"]
    assert body["profile"] == {"name": "boosty", "fingerprint": boosty.fingerprint, "active": False}
    assert [t["topic_id"] for t in body["topics"]] == ["boosted", "busy", "quiet", "small"]
    scores = {r.topic_id: r.score_24h for r in snap.profile_rows if r.profile == "boosty"}
    assert {t["topic_id"]: t["trending_score"] for t in body["topics"]} == pytest.approx(scores)
    # One more post and boost each since the previous snapshot: +0.1 + 1.0 under boosty.
    assert {t["score_change"] for t in body["topics"]} == {1.1}
    assert {t["score_change_reason"] for t in body["topics"]} == {None}

    strict = await api.get("/api/trending/topics", "profile=strict")
    assert [t["topic_id"] for t in strict["topics"]] == ["busy", "boosted", "quiet"]  # "small" has 1 author
    active = await api.get("/api/trending/topics", "profile=default")
    assert active["profile"]["active"] is True and active["topics"] == default["topics"]


async def test_an_unknown_profile_is_a_400(served: tuple[Api, Settings]) -> None:
    api, settings = served
    await commit(settings, boundary())
    body = await api.get("/api/trending/topics", "profile=rising", status=400)
    assert body["error"]["code"] == "unknown_profile"
    assert "default, boosty, strict" in body["error"]["message"]
    # The document this deployment serves names exactly the profiles it computes.
    document = await api.get("/api/openapi.json")
    (parameter,) = [p for p in document["paths"]["/api/trending/topics"]["get"]["parameters"] if p["name"] == "profile"]
    assert parameter["schema"]["enum"] == ["default", "boosty", "strict"]


async def test_score_change_follows_the_fingerprint_across_a_switch(tmp_path: Path) -> None:
    before = write_config(tmp_path, "default", ["boosty"])
    await create_db(before.database.path, TOPICS)
    older, previous, e = boundary(10), boundary(5), boundary()
    await commit(before, older)
    await commit(before, previous)
    # The switch: boosty becomes active, default stays as a shadow.
    after = write_config(tmp_path, "boosty", ["default"])
    await commit(after, e, extra=1)
    async with serving(after) as api:
        body = await api.get("/api/trending/topics")
        # boosty was a shadow in the previous snapshot: its change continues without a gap.
        assert {t["score_change"] for t in body["topics"]} == {1.1}
        shadow = await api.get("/api/trending/topics", "profile=default")
        assert {t["score_change"] for t in shadow["topics"]} == {0.7}
    # A profile nobody computed before: no change, and the reason says why.
    fresh = write_config(tmp_path, "strict", [])
    await commit(fresh, e + 5 * 60_000)
    async with serving(fresh) as api:
        body = await api.get("/api/trending/topics")
        assert {(t["score_change"], t["score_change_reason"]) for t in body["topics"]} == {(None, "profile_changed")}
        # strict's min_authors = 2 leaves "small" (one author) unranked: not listed, though it has a row.
        assert [t["topic_id"] for t in body["topics"]] == ["busy", "boosted", "quiet"]


async def test_the_comparison_endpoint_reports_each_shadow(served: tuple[Api, Settings]) -> None:
    api, settings = served
    assert (await api.get("/api/trending/profiles/compare", status=404))["error"]["code"] == "no_snapshot"
    e = boundary()
    snap = await commit(settings, e)
    body = await api.get("/api/trending/profiles/compare")
    assert body["window_end"] == e
    assert body["active"] == {"name": "default", "fingerprint": settings.metrics.profiles.active.fingerprint,
                              "active": True}
    active = [r.topic_id for r in sorted(snap.rows, key=lambda r: (-r.score_24h, -r.score_6h, r.topic_id))]
    boosty = [t["topic_id"] for t in (await api.get("/api/trending/topics", "profile=boosty"))["topics"]]
    expected = compare_rankings("default", active, "boosty", boosty)
    (first, second) = body["profiles"]
    assert (first["profile"], second["profile"]) == ("boosty", "strict")
    assert first["kendall_tau"] == pytest.approx(expected.kendall_tau)
    assert (first["overlap_top10"], first["entering_top10"], first["leaving_top10"]) == (1.0, [], [])
    assert second["leaving_top10"] == ["small"]
    assert (await api.get("/api/trending/profiles/compare", f"at={e - 1}", status=404))["error"]["code"] == (
        "no_snapshot")
    assert (await api.get("/api/trending/profiles/compare", "at=soon", status=400))["error"]["code"] == "invalid_at"


async def test_the_live_fallback_ranks_by_a_shadow_profile_too(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "default", ["boosty"])
    await create_db(settings.database.path, ["busy", "boosted"])
    now = boundary()
    facts = [Event(f"p{i}", "post", "busy", f"a{i}", now - 60_000 - i) for i in range(5)]
    facts += [Event("q", "post", "boosted", "b", now - 120_000)]
    facts += [Event(f"b{i}", "boost", "boosted", f"c{i}", now - 90_000, "q") for i in range(3)]
    await add_facts(settings.database.path, facts)
    async with serving(settings) as api:
        default = await api.get("/api/trending/topics")
        shadow = await api.get("/api/trending/topics", "profile=boosty")
    assert default["data_source"] == shadow["data_source"] == "fallback"
    assert [t["topic_id"] for t in default["topics"]] == ["busy", "boosted"]
    assert [(t["topic_id"], t["trending_score"]) for t in shadow["topics"]] == [("boosted", 3.4), ("busy", 2.0)]  # 0.1 + 0.3 + 3 boosts
    assert shadow["profile"]["fingerprint"] == settings.metrics.profiles.defined["boosty"].fingerprint
