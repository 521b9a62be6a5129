"""Snapshots scored with profiles: the stream and the batch agree, and the default stays today's score.

The stream folds the facts into a `PartitionState` whose windows include the profiles' baselines
(as the worker builds it); the batch recomputes the same boundary from a real SQLite app database.
"""

from __future__ import annotations

import random
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from appdb.recompute import recompute_snapshot
from config.settings import ScoreWeights
from streams.aggregation import PartitionState
from streams.events import Event
from streams.metrics import CountsByWindow, WindowCounts, build_snapshot
from streams.scoring import (
    DEFAULT,
    RISING,
    RisingParameters,
    ScoreProfile,
    linear_score,
    needs_author_counts,
    required_span_ms,
    scoring_windows,
)
from streams.state_store import MemoryStore
from streams.windows import W6, W24, WPREV, retention_ms, window_set
from tests.fixtures.app_db import BOUNDARY, build_app_db

E = BOUNDARY
SURGING = ScoreProfile("surging", "rising", min_authors=2, rising=RisingParameters())
WEEKLY = ScoreProfile("weekly", "rising", rising=RisingParameters(baseline_hours=48))
STRICT = ScoreProfile("strict", min_authors=5, weights=ScoreWeights(1.0, 0.0, 0.5))
PROFILES = (SURGING, DEFAULT, STRICT, WEEKLY)


def random_events(seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    for i in range(300):
        topic = f"t{rng.randrange(8)}"
        at = E - rng.randrange(1, 70 * 12) * 5 * 60_000 + rng.randrange(300_000)
        kind = rng.choice(["post", "post", "reply", "boost", "bookmark"])
        posts = [e for e in events if e.topic_id == topic and e.kind in ("post", "reply")]
        if kind != "post" and not posts:
            kind = "post"
        target = None if kind == "post" else rng.choice(posts).event_id
        author = f"a{rng.randrange(6)}"
        if kind == "bookmark" and any((e.author, e.target_id) == (author, target) for e in events):
            continue  # the app keeps one bookmark per user and post
        events.append(Event(f"e{i}", kind, topic, author, at, target))  # type: ignore[arg-type]
    return events


def stream_state(
    events: list[Event], profiles: tuple[ScoreProfile, ...], *, order: random.Random | None = None
) -> PartitionState:
    """The events folded as the worker folds them (its windows, retention and per-author boosts for
    these profiles), in time order or shuffled by `order`."""
    windows = (*window_set(), *scoring_windows(profiles))
    retention = max(retention_ms(windows), required_span_ms(profiles))
    per_author = any(needs_author_counts(p) for p in profiles)
    state = PartitionState(0, MemoryStore(), windows, retention, E, per_author_boosts=per_author)
    arrivals = sorted(events, key=lambda e: e.created_at)
    if order is not None:
        order.shuffle(arrivals)
    for event in arrivals:
        state.apply(event)
    return state


@pytest.mark.integration
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_stream_and_batch_compute_the_same_profile_scores(tmp_path: Path, seed: int) -> None:
    events = random_events(seed)
    db = await build_app_db(tmp_path / "kukuri.db", events)
    batch = await recompute_snapshot(db, E, PROFILES, updated_at=0)
    streamed = stream_state(events, PROFILES).snapshot(E, PROFILES, 0)
    assert [asdict(r) for r in streamed.rows] == [asdict(r) for r in batch.rows]
    assert streamed.profile_rows == batch.profile_rows
    assert {r.profile for r in batch.profile_rows} == {"default", "strict", "weekly"}
    assert any(r.score_24h > 0 for r in batch.profile_rows if r.profile == "weekly")
    assert not all(r.ranked for r in batch.profile_rows if r.profile == "strict")
    # The active profile's scores are the ones in topic_metrics.
    assert any(r.score_6h > 0 for r in batch.rows)
    assert batch.window_rows == []  # a baseline window is not an extra window


CAPPED = ScoreProfile("capped", author_cap=2, count_self_boosts=False, weights=ScoreWeights(1.0, 0.5, 1.0))
GUARDED = (RISING, DEFAULT, CAPPED, SURGING)


@pytest.mark.integration
@pytest.mark.parametrize("seed", [4, 5, 6])
async def test_caps_and_self_boosts_agree_between_the_stream_and_the_batch(tmp_path: Path, seed: int) -> None:
    """The built-in rising profile (author cap, no self-boosts, min_authors) as the active profile,
    with a capped linear shadow: the stream, folding in any order, and the batch give the same rows."""
    events = many_self_boosts(random_events(seed), seed)
    db = await build_app_db(tmp_path / "kukuri.db", events)
    batch = await recompute_snapshot(db, E, GUARDED, updated_at=0)
    for order in (None, random.Random(seed)):
        streamed = stream_state(events, GUARDED, order=order).snapshot(E, GUARDED, 0)
        assert [asdict(r) for r in streamed.rows] == [asdict(r) for r in batch.rows]
        assert streamed.profile_rows == batch.profile_rows
    plain = await recompute_snapshot(db, E, (replace(RISING, author_cap=None, count_self_boosts=True),), updated_at=0)
    assert [r.score_24h for r in plain.rows] != [r.score_24h for r in batch.rows], "the guards change scores"
    open_ = replace(CAPPED, name="open", author_cap=None, count_self_boosts=True)
    unguarded = await recompute_snapshot(db, E, (DEFAULT, open_), updated_at=0)
    capped = {r.topic_id: r.score_24h for r in batch.profile_rows if r.profile == "capped"}
    uncapped = {r.topic_id: r.score_24h for r in unguarded.profile_rows}
    assert all(capped[t] <= uncapped[t] for t in capped)
    assert any(capped[t] < uncapped[t] for t in capped), "the cap and the self-boost rule bite somewhere"


def many_self_boosts(events: list[Event], seed: int) -> list[Event]:
    """The events plus authors boosting their own recent posts, some before the post arrives."""
    rng = random.Random(seed)
    own = [e for e in events if e.kind == "post" and e.created_at >= E - 40 * 3_600_000]
    extra = [
        Event(f"s{i}", "boost", p.topic_id, p.author, min(p.created_at + rng.randrange(1, 20) * 60_000, E - 1),
              p.event_id)
        for i, p in enumerate(rng.sample(own, min(25, len(own))))
    ]
    return events + extra


def test_the_default_profile_keeps_todays_scores() -> None:
    events = random_events(7)
    state = stream_state(events, (DEFAULT,))
    by_weights = state.snapshot(E, ScoreWeights(0.5, 0.25, 2.0), 0)
    by_profile = state.snapshot(E, (replace(DEFAULT, weights=ScoreWeights(0.5, 0.25, 2.0)),), 0)
    assert by_weights == by_profile and by_profile.profile_rows == []
    counts = {t: c.counts() for t, c in state.sliding.tallies[W24.name].items()}
    for row in by_profile.rows:
        c = counts[row.topic_id]
        assert row.score_24h == linear_score(c.posts, c.unique_authors, c.boosts, ScoreWeights(0.5, 0.25, 2.0))


def test_a_new_topic_rises_from_the_floor() -> None:
    counts: CountsByWindow = {
        W24.name: {"new": WindowCounts(posts=10, boosts=5, unique_authors=4, participants=9)},
        W6.name: {"new": WindowCounts(posts=10, boosts=5, unique_authors=4, participants=9)},
        WPREV.name: {},
        "6h_baseline_24h": {},
    }
    snapshot = build_snapshot(E, counts, (SURGING,), windows=window_set(), updated_at=0)
    assert (snapshot.rows[0].score_24h, snapshot.rows[0].score_6h) == (30.25, 30.25)  # (6.5 - 1)^2 / 1


def test_counts_cannot_serve_caps_or_the_self_boost_rule() -> None:
    with pytest.raises(ValueError, match="author_cap, count_self_boosts"):
        build_snapshot(E, {}, (DEFAULT, RISING), windows=window_set(), updated_at=0)


def test_a_profile_whose_baseline_the_state_does_not_keep_is_an_error() -> None:
    state = stream_state(random_events(3), (DEFAULT,))
    with pytest.raises(ValueError, match="6h_baseline_24h"):
        state.snapshot(E, (SURGING,), 0)
