"""Gap repair: every boundary within the TTL without a recorded run gets one, from one read."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from reconcile.gaps import boundaries_within_ttl, fill_gaps
from reconcile.runner import reconcile_boundary
from streams.events import Event
from tests.fixtures.app_db import HOUR, MINUTE, build_app_db, expected_snapshot, scenario, settings_for, stored_rows
from tests.reconcile.test_runner import counter


def run_sources(db: Path) -> dict[int, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT window_end, source FROM trending_runs").fetchall())


def test_boundaries_within_ttl_exclude_the_expired_edge() -> None:
    settings = settings_for(Path("unused.db"), ttl_hours=1)
    aligned = 1_700_000_100_000 - 1_700_000_100_000 % (5 * MINUTE)
    assert boundaries_within_ttl(settings, aligned) == [aligned - 55 * MINUTE + 5 * MINUTE * k for k in range(12)]
    assert boundaries_within_ttl(settings, aligned + 1) == boundaries_within_ttl(settings, aligned)
    assert boundaries_within_ttl(settings, aligned - 1)[-1] == aligned - 5 * MINUTE


@pytest.mark.integration
async def test_gaps_are_found_and_filled_each_with_its_own_run(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    settings = settings_for(tmp_path / "app.db", ttl_hours=1)
    within = boundaries_within_ttl(settings, now)
    events = [
        *scenario(within[-1]),
        Event("w1", "post", "go", "kim", within[3] - 10 * MINUTE),
        Event("w2", "reply", "go", "lee", within[3] - MINUTE, "w1"),
    ]
    db = await build_app_db(tmp_path / "app.db", events)
    for e in (within[0], within[5]):
        await reconcile_boundary(settings, e)
    runs_before = counter("runs")

    dry = await fill_gaps(settings, dry_run=True, now=now)
    assert dry.gaps == [b for b in within if b not in (within[0], within[5])]
    assert all(r.run is None for r in dry.results)
    assert set(run_sources(db)) == {within[0], within[5]}

    seen: list[tuple[int, int]] = []
    result = await fill_gaps(settings, now=now, progress=lambda done, total: seen.append((done, total)))

    assert result.ttl_boundaries == 12 and result.gaps == dry.gaps
    assert [r.boundary for r in result.results] == result.gaps
    assert seen[-1] == (10, 10)
    assert run_sources(db) == {b: "reconcile" for b in within}
    for boundary in result.gaps:
        assert stored_rows(db, boundary) == expected_snapshot(events, boundary)[0]
    assert counter("runs") == runs_before + 20
    assert (await fill_gaps(settings, now=now)).gaps == []


@pytest.mark.integration
async def test_an_unmigrated_database_has_every_boundary_as_a_gap(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    settings = settings_for(tmp_path / "app.db", ttl_hours=1)
    await build_app_db(tmp_path / "app.db", scenario(now - now % (5 * MINUTE) - HOUR), migrated=False)
    result = await fill_gaps(settings, now=now)
    assert len(result.gaps) == 12 and len(run_sources(settings.database.path)) == 12
