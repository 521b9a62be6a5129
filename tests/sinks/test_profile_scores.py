"""Shadow profile scores and the profile of every run, through a real SQLite file.

Whole snapshots and parts record the active profile and its fingerprint; shadow scores are ranked
globally once the snapshot is complete; parts computed with different active profiles are never
promoted together, and a shadow is promoted only where every part computed it the same way.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from config.settings import ScoreWeights
from sinks.database import connect_writer
from sinks.failures import classify
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import ProfileMismatch, now_ms, write_snapshot, write_snapshot_part
from streams.metrics import CountsByWindow, Snapshot, WindowCounts, build_snapshot
from streams.scoring import DEFAULT, ScoreProfile, TopicScore, rank_topics
from streams.snapshot_profiles import part_profiles
from streams.windows import W6, W24, WPREV, window_set

STRICT = ScoreProfile("strict", min_authors=3)
BOOSTY = ScoreProfile("boosty", weights=ScoreWeights(0.1, 0.0, 1.0))
PROFILES = (DEFAULT, STRICT, BOOSTY)


def snapshot(boundary: int, profiles: tuple[ScoreProfile, ...] = PROFILES, seed: int = 0) -> Snapshot:
    rng = random.Random(seed)
    counts: CountsByWindow = {W24.name: {}, W6.name: {}, WPREV.name: {}}
    for i in range(30):
        posts, authors, boosts = rng.randrange(1, 9), rng.randrange(1, 6), rng.randrange(0, 9)
        counts[W24.name][f"t{i:02}"] = WindowCounts(posts, 0, boosts, 0, authors, authors)  # type: ignore[index]
        counts[W6.name][f"t{i:02}"] = WindowCounts(posts // 2, 0, boosts // 3, 0, authors, authors)  # type: ignore[index]
    return build_snapshot(boundary, counts, profiles, windows=window_set(), updated_at=0)


def stored_ranks(db: Path, boundary: int) -> dict[str, dict[str, int | None]]:
    with sqlite3.connect(db) as conn:
        ranks: dict[str, dict[str, int | None]] = {}
        for profile, topic, rank in conn.execute(
            "SELECT profile, topic_id, rank FROM topic_profile_scores WHERE window_end = ?", (boundary,)
        ):
            ranks.setdefault(profile, {})[topic] = rank
        return ranks


def expected_ranks(snap: Snapshot, profile: str) -> dict[str, int | None]:
    posts = {r.topic_id: r.posts_24h for r in snap.rows}
    rows = [r for r in snap.profile_rows if r.profile == profile]
    ranks = rank_topics((r.topic_id, TopicScore(r.score_24h, r.score_6h, r.ranked), posts[r.topic_id]) for r in rows)
    return {r.topic_id: ranks.get(r.topic_id) for r in rows}


def run_profile(db: Path, boundary: int) -> tuple[str | None, str | None]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT score_profile, score_fingerprint FROM trending_runs WHERE window_end = ?", (boundary,)
        ).fetchone()


def split(snap: Snapshot, parts: int) -> tuple[dict[int, list], dict[int, list]]:  # type: ignore[type-arg]
    part_of = {r.topic_id: int(r.topic_id[1:]) % parts for r in snap.rows}
    rows = {p: [r for r in snap.rows if part_of[r.topic_id] == p] for p in range(parts)}
    shadows = {p: [r for r in snap.profile_rows if part_of[r.topic_id] == p] for p in range(parts)}
    return rows, shadows


@pytest.fixture
async def conn(tmp_path: Path):  # type: ignore[no-untyped-def]
    connection = await connect_writer(tmp_path / "kukuri.db")
    await apply_migrations(connection)
    yield connection
    await connection.close()


@pytest.mark.integration
async def test_a_whole_snapshot_records_its_profile_and_ranks_every_shadow(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, now = tmp_path / "kukuri.db", now_ms() - now_ms() % 300_000
    e = now - 49 * 3_600_000
    snap = snapshot(e)
    record = await write_snapshot(conn, e, snap.rows, source="reconcile", ttl_hours=100,
                                  profile_rows=snap.profile_rows, profiles=part_profiles(PROFILES))
    assert (record.score_profile, record.score_fingerprint) == ("default", DEFAULT.fingerprint)
    assert run_profile(db, e) == ("default", DEFAULT.fingerprint)
    ranks = stored_ranks(db, e)
    assert set(ranks) == {"strict", "boosty"}
    for name in ranks:
        assert ranks[name] == expected_ranks(snap, name)
    assert None in ranks["strict"].values()  # min_authors leaves some topics unranked
    # Expired with topic_metrics.
    await write_snapshot(conn, now, [], source="stream", ttl_hours=48)
    assert stored_ranks(db, e) == {}


@pytest.mark.integration
async def test_parts_rank_shadows_across_partitions(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, e = tmp_path / "kukuri.db", now_ms() - now_ms() % 300_000
    snap = snapshot(e, seed=4)
    rows, shadows = split(snap, 2)
    kwargs = {"total_partitions": 2, "ttl_hours": 48, "profiles": part_profiles(PROFILES)}
    assert (await write_snapshot_part(conn, e, {0: rows[0]}, worker_id="w1",
                                      profile_rows_by_partition={0: shadows[0]}, **kwargs)).run is None  # type: ignore[arg-type]
    assert stored_ranks(db, e) == {}
    done = await write_snapshot_part(conn, e, {1: rows[1]}, worker_id="w2",
                                     profile_rows_by_partition={1: shadows[1]}, **kwargs)  # type: ignore[arg-type]
    assert done.run is not None and done.run.score_fingerprint == DEFAULT.fingerprint
    ranks = stored_ranks(db, e)
    assert {name: ranks[name] for name in ("strict", "boosty")} == {
        name: expected_ranks(snap, name) for name in ("strict", "boosty")}


@pytest.mark.integration
async def test_parts_of_different_active_profiles_are_never_promoted(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, e = tmp_path / "kukuri.db", now_ms() - now_ms() % 300_000
    old = snapshot(e)
    switched = (replace(DEFAULT, weights=ScoreWeights(0.6, 0.3, 0.2)), STRICT)
    new = snapshot(e, switched)
    rows_old, shadows_old = split(old, 2)
    rows_new, shadows_new = split(new, 2)
    await write_snapshot_part(conn, e, {0: rows_old[0]}, total_partitions=2, worker_id="w1", ttl_hours=48,
                              profile_rows_by_partition={0: shadows_old[0]}, profiles=part_profiles(PROFILES))
    with pytest.raises(ProfileMismatch, match=rf"snapshot {e} not promoted.*default \({DEFAULT.fingerprint}\)"):
        await write_snapshot_part(conn, e, {1: rows_new[1]}, total_partitions=2, worker_id="w2", ttl_hours=48,
                                  profile_rows_by_partition={1: shadows_new[1]}, profiles=part_profiles(switched))
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT COUNT(*) FROM topic_metrics").fetchone() == (0,)
        assert check.execute("SELECT COUNT(*) FROM trending_runs").fetchone() == (0,)
        assert check.execute("SELECT partition FROM snapshot_parts").fetchall() == [(0,)]  # the failed part is not kept
    assert classify(ProfileMismatch("x")) == "transient"
    # Once the first worker restarts with the new profiles and rewrites its part, the second worker's
    # retry completes the snapshot; the shadow only the old part had (boosty) is gone with it.
    first = await write_snapshot_part(conn, e, {0: rows_new[0]}, total_partitions=2, worker_id="w1", ttl_hours=48,
                                      profile_rows_by_partition={0: shadows_new[0]}, profiles=part_profiles(switched))
    assert first.run is None
    done = await write_snapshot_part(conn, e, {1: rows_new[1]}, total_partitions=2, worker_id="w2", ttl_hours=48,
                                     profile_rows_by_partition={1: shadows_new[1]}, profiles=part_profiles(switched))
    assert done.run is not None and done.run.score_fingerprint == switched[0].fingerprint
    assert stored_ranks(db, e) == {"strict": expected_ranks(new, "strict")}


@pytest.mark.integration
async def test_a_shadow_only_some_parts_computed_is_left_out(conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, e = tmp_path / "kukuri.db", now_ms() - now_ms() % 300_000
    full, partial = snapshot(e), snapshot(e, (DEFAULT, STRICT))
    rows, shadows = split(full, 2)
    _, shadows_partial = split(partial, 2)
    await write_snapshot_part(conn, e, {0: rows[0]}, total_partitions=2, worker_id="w1", ttl_hours=48,
                              profile_rows_by_partition={0: shadows[0]}, profiles=part_profiles(PROFILES))
    done = await write_snapshot_part(conn, e, {1: rows[1]}, total_partitions=2, worker_id="w2", ttl_hours=48,
                                     profile_rows_by_partition={1: shadows_partial[1]},
                                     profiles=part_profiles((DEFAULT, STRICT)))
    assert done.run is not None
    assert set(stored_ranks(db, e)) == {"strict"}
