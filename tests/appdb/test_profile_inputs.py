"""Score-profile inputs recomputed from the app database equal a brute-force statement of the rules
in the app's terms: caps per author and window, self-boosts by the target's author and age."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from appdb.profile_inputs import read_profile_inputs
from streams.events import Event
from streams.scoring import DEFAULT, RISING, SELF_BOOST_HORIZON_MS, ScoreInputs, ScoreProfile, score_topic
from tests.fixtures.app_db import BOUNDARY, HOUR, build_app_db, fact_sets

pytestmark = pytest.mark.integration
E = BOUNDARY
PROFILES = (DEFAULT, RISING, ScoreProfile("capped", author_cap=1, count_self_boosts=False))


def _app_inputs(
    events: Sequence[Event], start: int, end: int, cap: int | None, count_self: bool
) -> dict[str, ScoreInputs]:
    """From the app's storage rules: the first write of an id wins, a delete flags its target, posts
    and replies live in the topics they were written with, boosts in their target's topics."""
    deleted = {e.target_id for e in events if e.kind == "delete"}
    stored: dict[str, Event] = {}
    topics: dict[str, set[str]] = {}
    for e in events:
        if e.kind in ("post", "reply", "boost"):
            stored.setdefault(e.event_id, e)
            if e.kind != "boost":
                topics.setdefault(e.event_id, set()).add(e.topic_id)
    posts: dict[str, dict[str, int]] = {}
    boosts: dict[str, dict[str, int]] = {}
    for e in stored.values():
        if e.event_id in deleted or not start <= e.created_at < end:
            continue
        if e.kind == "boost":
            target = stored.get(e.target_id or "")
            own = (
                target is not None and target.kind in ("post", "reply") and target.author == e.author
                and target.created_at >= e.created_at - SELF_BOOST_HORIZON_MS
            )
            if count_self or not own:
                for topic in topics.get(e.target_id or "", ()):
                    boosts.setdefault(topic, {}).setdefault(e.author, 0)
                    boosts[topic][e.author] += 1
        else:
            for topic in topics[e.event_id]:
                posts.setdefault(topic, {}).setdefault(e.author, 0)
                posts[topic][e.author] += 1

    def capped(counts: dict[str, int]) -> int:
        return sum(n if cap is None else min(n, cap) for n in counts.values())

    return {
        topic: ScoreInputs(capped(posts.get(topic, {})), capped(boosts.get(topic, {})), len(posts.get(topic, {})))
        for topic in set(posts) | set(boosts)
    }


def _nonzero(inputs: dict[str, ScoreInputs]) -> dict[str, ScoreInputs]:
    return {t: x for t, x in inputs.items() if x != ScoreInputs()}


async def _check(path: Path, events: list[Event]) -> None:
    db = await build_app_db(path, events, migrated=False)
    got = await read_profile_inputs(db, E, PROFILES)
    for profile in PROFILES:
        for i, need in enumerate(profile.needs):
            start, end = need.window.bounds(E)
            want = _app_inputs(events, start, end, need.cap, need.count_self_boosts)
            assert _nonzero({t: x[i] for t, x in got[profile.name].items()}) == _nonzero(want), (profile.name, need)


async def test_self_boosts_caps_and_deleted_targets(tmp_path: Path) -> None:
    events = [
        Event("p1", "post", "rust", "alice", E - 2 * HOUR),
        Event("p2", "post", "rust", "bob", E - 2 * HOUR),
        Event("p3", "post", "rust", "carol", E - 2 * HOUR),
        *[Event(f"a{i}", "post", "rust", "alice", E - HOUR - i) for i in range(9)],
        Event("b1", "boost", "t", "alice", E - HOUR, "p1"),  # self-boost
        Event("b2", "boost", "t", "alice", E - HOUR, "p2"),  # bob's post
        Event("b3", "boost", "t", "bob", E - HOUR, "p2"),  # self-boost of a deleted post: still self
        Event("d2", "delete", "t", "bob", E - HOUR, "p2"),
        Event("old", "post", "rust", "dave", E - 47 * HOUR),
        Event("b4", "boost", "t", "dave", E - 3 * HOUR, "old"),  # 44 h after its target: ordinary
    ]
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    got = await read_profile_inputs(db, E, PROFILES)
    # 24 h: alice's 10 posts and carol's (bob's is deleted); all four boosts (the target's deletion
    # does not retract a boost). Self-boosts: b1 and b3. Ordinary: b2, and b4 (target too old).
    assert got["default"]["rust"][0] == ScoreInputs(posts=11, boosts=4, unique_authors=2)
    assert got["capped"]["rust"][0] == ScoreInputs(posts=1 + 1, boosts=2, unique_authors=2)
    rising = got["rising"]["rust"]
    assert rising[0] == ScoreInputs(posts=5 + 1, boosts=2, unique_authors=2)
    assert not score_topic(RISING, rising).ranked  # 2 authors, rising wants 3
    await _check(tmp_path / "again.db", events)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fact_sets())
def test_random_fact_sets_match_the_oracle(events: list[Event]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_check(Path(tmp) / "app.db", events))
