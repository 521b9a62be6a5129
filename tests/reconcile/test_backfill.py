"""Backfill: history for every boundary of the last N minutes, and optionally the latest snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconcile.backfill import backfill, backfill_boundaries
from streams.events import Event
from tests.fixtures.app_db import (
    IGNORED,
    MINUTE,
    add_facts,
    build_app_db,
    expected_snapshot,
    recent_boundary,
    scenario,
    settings_for,
    stored_rows,
)


def history(db: Path) -> dict[int, dict[str, dict[str, object]]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT * FROM topic_metrics_history").fetchall()
    out: dict[int, dict[str, dict[str, object]]] = {}
    for r in rows:
        assert r["source"] == "backfill"
        out.setdefault(r["window_end"], {})[r["topic_id"]] = {
            k: r[k] for k in r.keys() if k not in (*IGNORED, "source", "run_at")
        }
    return out


def test_boundaries_end_with_the_latest_and_cover_the_minutes() -> None:
    step = 5 * MINUTE
    assert backfill_boundaries(10 * step + 7, 60, step) == [step * k for k in range(-1, 11)]
    assert backfill_boundaries(10 * step, 1, step) == [10 * step]
    quarter = 15 * MINUTE
    assert backfill_boundaries(20 * quarter + step, 1440, quarter) == [quarter * (20 - k) for k in range(95, -1, -1)]


@pytest.mark.integration
async def test_history_for_every_boundary_equals_the_oracle(tmp_path: Path) -> None:
    until = recent_boundary()
    events = scenario(until - 20 * MINUTE)
    db = await build_app_db(tmp_path / "app.db", events)
    seen: list[tuple[int, int]] = []

    result = await backfill(
        settings_for(db), minutes=60, until=until + 3 * MINUTE, progress=lambda d, t: seen.append((d, t))
    )

    assert result.boundaries == [until - 5 * MINUTE * k for k in range(11, -1, -1)]
    assert seen[-1] == (12, 12)
    stored = history(db)
    assert result.history_rows == sum(len(v) for v in stored.values())
    for boundary in result.boundaries:
        assert stored.get(boundary, {}) == expected_snapshot(events, boundary)[0]
    with sqlite3.connect(db) as conn:
        assert {r for (r,) in conn.execute("SELECT DISTINCT run_at FROM topic_metrics_history")} == {result.run_at}
        assert conn.execute("SELECT COUNT(*) FROM topic_metrics").fetchone() == (0,)
    assert result.applied is None


@pytest.mark.integration
async def test_apply_writes_the_latest_snapshot(tmp_path: Path) -> None:
    until = recent_boundary()
    events = scenario(until)
    db = await build_app_db(tmp_path / "app.db", events)
    result = await backfill(settings_for(db), minutes=15, until=until, apply=True)
    assert result.applied is not None and result.applied.window_end == until and result.latest_topics == 2
    assert stored_rows(db, until) == expected_snapshot(events, until)[0]
    with sqlite3.connect(db) as conn:
        source = conn.execute("SELECT source FROM trending_runs WHERE window_end = ?", (until,)).fetchone()
    assert source == ("backfill",)


@pytest.mark.integration
async def test_a_rerun_replaces_the_earlier_history(tmp_path: Path) -> None:
    until = recent_boundary()
    db = await build_app_db(tmp_path / "app.db", [Event("p", "post", "t", "a", until - MINUTE)])
    await backfill(settings_for(db), minutes=10, until=until)
    assert list(history(db)[until]) == ["t"]
    await add_facts(db, [Event("d", "delete", "t", "a", until, "p")])
    await backfill(settings_for(db), minutes=10, until=until)
    assert history(db) == {}
