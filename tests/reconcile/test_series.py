"""Sliding windows over pane activity (`reconcile.panes`) and the series they give (`reconcile.series`)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appdb.recompute import PaneActivity, recompute_snapshot
from config.settings import ScoreWeights
from reconcile.panes import slide
from reconcile.series import recompute_series
from streams.events import Event
from streams.metrics import Snapshot, WindowCounts
from streams.scoring import DEFAULT, RISING, ScoreProfile, Scoring
from streams.windows import PANE_MS, WindowSpec
from tests.fixtures.app_db import BOUNDARY, HOUR, as_dicts, build_app_db, expected_snapshot, fact_sets, window_dicts

TEN_MINUTES = WindowSpec("10m", 2 * PANE_MS)


def act(pane: int, topic: str, author: str, posts: int = 1, boosts: int = 0) -> PaneActivity:
    return PaneActivity(pane * PANE_MS, topic, author, posts, 0, boosts, 0, int(posts > 0), 1)


def test_distinct_authors_survive_until_their_last_pane_leaves() -> None:
    activity = [act(0, "t", "alice"), act(1, "t", "alice"), act(1, "t", "bob", posts=0, boosts=1), act(2, "t", "bob")]
    series = slide(activity, [TEN_MINUTES], [p * PANE_MS for p in range(1, 6)])
    counts = {b // PANE_MS: c[TEN_MINUTES.name] for b, c in series}
    assert counts[1] == {"t": WindowCounts(posts=1, unique_authors=1, participants=1)}  # pane 0
    assert counts[2] == {"t": WindowCounts(posts=2, boosts=1, unique_authors=1, participants=2)}  # panes 0, 1
    assert counts[3] == {"t": WindowCounts(posts=2, boosts=1, unique_authors=2, participants=2)}  # panes 1, 2
    assert counts[4] == {"t": WindowCounts(posts=1, unique_authors=1, participants=1)}  # panes 2, 3
    assert counts[5] == {}  # panes 3, 4: nothing left, the topic is gone


def test_jumps_larger_than_the_window_refill_it() -> None:
    activity = [act(0, "t", "alice"), act(10, "t", "bob")]
    result = dict(slide(activity, [TEN_MINUTES], [1 * PANE_MS, 11 * PANE_MS]))
    assert result[11 * PANE_MS][TEN_MINUTES.name] == {"t": WindowCounts(posts=1, unique_authors=1, participants=1)}


def test_boundaries_must_be_ascending_pane_multiples() -> None:
    with pytest.raises(ValueError):
        list(slide([], [TEN_MINUTES], [2 * PANE_MS, PANE_MS]))
    with pytest.raises(ValueError):
        list(slide([], [TEN_MINUTES], [PANE_MS + 1]))


@pytest.mark.integration
async def test_empty_series_reads_nothing(tmp_path: Path) -> None:
    assert [s async for s in await recompute_series(tmp_path / "missing.db", [], ScoreWeights(), updated_at=0)] == []


async def collect(db: Path, boundaries: list[int], scoring: Scoring, **kwargs: Any) -> list[Snapshot]:
    return [s async for s in await recompute_series(db, boundaries, scoring, **kwargs)]


@pytest.mark.integration
async def test_profiles_with_author_caps_read_their_inputs_per_boundary(tmp_path: Path) -> None:
    """The built-in rising profile (author cap, no self-boosts) and a capped shadow over a series."""
    from bench.reconcile_bench import generate_events, shape_for

    profiles = (RISING, DEFAULT, ScoreProfile("capped", author_cap=1))
    events = list(generate_events(shape_for(300, span_hours=80), seed=5, end=BOUNDARY))
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    boundaries = [BOUNDARY - k * PANE_MS for k in (300, 12, 1, 0)]
    series = await collect(db, boundaries, profiles, updated_at=1)
    assert series == [await recompute_snapshot(db, b, profiles, updated_at=1) for b in boundaries]
    assert any(r.score_24h > 0 for s in series for r in s.rows)


def _boundaries(draw_offsets: list[int]) -> list[int]:
    return sorted({BOUNDARY - k * PANE_MS for k in draw_offsets})


@pytest.mark.integration
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=fact_sets(span_ms=80 * HOUR),
    offsets=st.lists(st.integers(0, 3 * 288), min_size=1, max_size=6),
    extra=st.sampled_from([{}, {"1h": 60}, {"2d": 2880}]),
)
def test_series_equals_per_boundary_recompute_and_oracle(
    events: list[Event], offsets: list[int], extra: dict[str, int]
) -> None:
    """Every boundary of a series, contiguous or far apart, equals its own SQL recompute and the oracle."""
    boundaries = _boundaries(offsets)
    with tempfile.TemporaryDirectory() as tmp:
        db = asyncio.run(build_app_db(Path(tmp) / "app.db", events, migrated=False))
        series = asyncio.run(collect(db, boundaries, ScoreWeights(), extra_windows=extra, updated_at=5))
        singles = [
            asyncio.run(recompute_snapshot(db, b, ScoreWeights(), extra_windows=extra, updated_at=5))
            for b in boundaries
        ]
    assert series == singles
    for snapshot in series:
        rows, windows = expected_snapshot(events, snapshot.boundary, extra_windows=extra)
        assert as_dicts(snapshot.rows) == rows
        assert window_dicts(snapshot.window_rows) == windows


@pytest.mark.integration
async def test_consecutive_boundaries_over_a_day(tmp_path: Path) -> None:
    """288 consecutive boundaries of real-looking traffic: the slider never drifts from the SQL."""
    from bench.reconcile_bench import generate_events, shape_for

    events = list(generate_events(shape_for(3000, span_hours=72), seed=3, end=BOUNDARY))
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    boundaries = [BOUNDARY - k * PANE_MS for k in range(287, -1, -1)]
    series = {s.boundary: s async for s in await recompute_series(db, boundaries, ScoreWeights(), updated_at=1)}
    for boundary in [*boundaries[::37], boundaries[-1]]:
        assert series[boundary] == await recompute_snapshot(db, boundary, ScoreWeights(), updated_at=1)
