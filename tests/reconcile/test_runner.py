"""Reconciling one boundary against a real SQLite file: write, stay clean, detect drift, repair, fail."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from appdb.recompute import recompute_snapshot
from config.settings import load_settings
from reconcile.errors import ReconcileError
from reconcile.runner import reconcile_boundary, reconcile_latest
from sinks.database import connect_writer
from sinks.storage.snapshots import write_snapshot
from streams.events import Event
from tests.fixtures.app_db import (
    HOUR,
    as_dicts,
    build_app_db,
    expected_snapshot,
    recent_boundary,
    scenario,
    settings_for,
    stored_rows,
)

pytestmark = pytest.mark.integration


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(f"kukuri_trending_reconcile_{name}_total") or 0.0


def runs(db: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT window_end, source, finished_at FROM trending_runs ORDER BY window_end").fetchall()


async def test_without_an_earlier_snapshot_it_writes_one(tmp_path: Path) -> None:
    e = recent_boundary()
    events = scenario(e)
    db = await build_app_db(tmp_path / "app.db", events)
    before = {n: counter(n) for n in ("runs", "topics_repaired", "cells_changed")}

    result = await reconcile_boundary(settings_for(db), e)

    assert result.run is not None and result.repaired and result.previous_source is None
    assert (result.diff.count("missing"), result.diff.stored) == (2, 0)
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]
    assert [(end, source) for end, source, _ in runs(db)] == [(e, "reconcile")]
    assert counter("runs") == before["runs"] + 1
    assert counter("topics_repaired") == before["topics_repaired"] + 2
    assert counter("cells_changed") == before["cells_changed"] + 2 * 16


async def test_a_matching_snapshot_is_left_alone(tmp_path: Path) -> None:
    """Clean: nothing written, and the run keeps saying the stream produced it."""
    e = recent_boundary()
    db = await build_app_db(tmp_path / "app.db", scenario(e))
    snapshot = await recompute_snapshot(db, e, settings_for(db).metrics.score_weights)
    conn = await connect_writer(db)
    try:
        await write_snapshot(conn, e, snapshot.rows, source="stream", ttl_hours=48)
    finally:
        await conn.close()
    recorded = runs(db)
    repaired = counter("topics_repaired")

    result = await reconcile_boundary(settings_for(db), e)

    assert result.diff.clean and result.run is None and not result.repaired
    assert result.previous_source == "stream"
    assert runs(db) == recorded
    assert counter("topics_repaired") == repaired


async def test_drift_is_reported_by_a_dry_run_and_repaired_by_a_real_one(tmp_path: Path) -> None:
    e = recent_boundary()
    events = scenario(e)
    db = await build_app_db(tmp_path / "app.db", events)
    await reconcile_boundary(settings_for(db), e)
    with sqlite3.connect(db) as conn:  # what a stream that lost or double-counted facts might leave
        conn.execute("UPDATE topic_metrics SET posts_24h = 7, score_6h = 0.5 WHERE topic_id = 'rust'")
        conn.execute("DELETE FROM topic_metrics WHERE topic_id = 'python'")
        conn.execute(
            "INSERT INTO topic_metrics (topic_id, window_start, window_end, posts_24h, updated_at)"
            " VALUES ('ghost', ?, ?, 1, 0)",
            (e - 24 * HOUR, e),
        )
    tampered = stored_rows(db, e)

    dry = await reconcile_boundary(settings_for(db), e, dry_run=True)

    assert dry.run is None and not dry.repaired
    assert [(d.status, d.topic_id) for d in dry.diff.rows] == [
        ("extra", "ghost"), ("missing", "python"), ("changed", "rust"),
    ]
    changed = {c.column: (c.stored, c.recomputed) for c in dry.diff.rows[2].cells}
    assert changed == {"posts_24h": (7, 3), "score_6h": (0.5, 2 * 0.6 + 2 * 0.3 + 2 * 0.1)}
    assert stored_rows(db, e) == tampered

    fixed = await reconcile_boundary(settings_for(db), e)

    assert fixed.repaired and fixed.previous_source == "reconcile"
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]
    assert (await reconcile_boundary(settings_for(db), e, dry_run=True)).diff.clean


async def test_an_empty_snapshot_is_recorded_once(tmp_path: Path) -> None:
    e = recent_boundary()
    db = await build_app_db(tmp_path / "app.db")
    first = await reconcile_boundary(settings_for(db), e)
    assert first.diff.clean and first.run is not None and first.run.topics_upserted == 0
    second = await reconcile_boundary(settings_for(db), e)
    assert second.run is None
    assert [(end, source) for end, source, _ in runs(db)] == [(e, "reconcile")]


async def test_extra_windows_are_written_and_reconciled(tmp_path: Path) -> None:
    e = recent_boundary()
    events = scenario(e)
    db = await build_app_db(tmp_path / "app.db", events)
    settings = settings_for(db, extra_windows={"1h": 60})
    await reconcile_boundary(settings, e)
    with sqlite3.connect(db) as conn:
        stored = conn.execute(
            "SELECT window, topic_id, posts, boosts FROM topic_window_metrics ORDER BY topic_id"
        ).fetchall()
        assert stored == [("1h", "python", 0, 1), ("1h", "rust", 1, 1)]
        conn.execute("UPDATE topic_window_metrics SET posts = 9 WHERE topic_id = 'rust'")
    result = await reconcile_boundary(settings, e)
    assert [(d.status, d.window, d.topic_id) for d in result.diff.window_rows] == [("changed", "1h", "rust")]
    assert result.diff.rows == () and result.repaired


async def test_an_unmigrated_database_is_migrated_before_the_repair(tmp_path: Path) -> None:
    e = recent_boundary()
    events = [Event("p", "post", "t", "a", e - HOUR)]
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    dry = await reconcile_boundary(settings_for(db), e, dry_run=True)
    assert [d.status for d in dry.diff.rows] == ["missing"]
    await reconcile_boundary(settings_for(db), e)
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]


async def test_unreadable_app_database_fails_with_one_clear_error(tmp_path: Path) -> None:
    failures = counter("failures")
    with pytest.raises(ReconcileError, match=r"cannot read the app database .*missing\.db: unable to open"):
        await reconcile_boundary(settings_for(tmp_path / "missing.db"), recent_boundary())
    sqlite3.connect(tmp_path / "other.db").close()
    with pytest.raises(ReconcileError, match="no such table"):
        await reconcile_boundary(settings_for(tmp_path / "other.db"), recent_boundary())
    assert counter("failures") == failures + 2
    assert not (tmp_path / "missing.db").exists()


async def test_boundary_must_be_on_the_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a multiple"):
        await reconcile_boundary(settings_for(tmp_path / "app.db"), recent_boundary() + 1)


async def test_reconcile_latest_takes_the_boundary_at_or_before_now(tmp_path: Path) -> None:
    e = recent_boundary()
    db = await build_app_db(tmp_path / "app.db", scenario(e))
    result = await reconcile_latest(settings_for(db), now=e + 4 * 60_000 + 59_999)
    assert result.boundary == e and result.run is not None
    assert as_dicts(await _rows(db, e)) == stored_rows(db, e)


async def _rows(db: Path, e: int) -> list:
    return (await recompute_snapshot(db, e, settings_for(db).metrics.score_weights)).rows


async def test_a_repair_writes_the_shadow_profiles_and_records_the_active_one(tmp_path: Path) -> None:
    e = recent_boundary()
    db = await build_app_db(tmp_path / "app.db", scenario(e))
    config = tmp_path / "profiles.toml"
    config.write_text('[metrics]\nshadow_profiles = ["boosty"]\n[metrics.score_profiles.boosty]\nboosts = 2.0\n'
                      f'[database]\npath = "{db}"\n')
    settings = load_settings(config, environ={})
    expected = await recompute_snapshot(db, e, settings.metrics.profiles.computed)

    result = await reconcile_boundary(settings, e)

    assert result.run is not None and result.run.score_fingerprint == settings.metrics.profiles.active.fingerprint
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT topic_id, profile, score_24h, rank FROM topic_profile_scores"
                              " WHERE window_end = ? ORDER BY rank", (e,)).fetchall()
        (shadows,) = conn.execute("SELECT score_shadows FROM trending_runs WHERE window_end = ?", (e,)).fetchone()
    assert [(t, p, s) for t, p, s, _ in stored] == sorted(
        ((r.topic_id, r.profile, r.score_24h) for r in expected.profile_rows), key=lambda r: -r[2])
    assert [rank for *_, rank in stored] == list(range(1, len(stored) + 1))
    assert json.loads(shadows) == {"boosty": settings.metrics.profiles.defined["boosty"].fingerprint}
