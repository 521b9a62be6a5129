"""The SQL recompute (`appdb.recompute`) against hand-computed numbers and an independent oracle."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appdb.recompute import read_groups, recompute_snapshot
from config.settings import ScoreWeights
from streams.events import Event
from streams.scoring import RisingParameters, ScoreProfile, scoring_windows
from streams.windows import W6, W24, WPREV, WindowSpec, window_set
from tests.fixtures.app_db import (
    BOUNDARY,
    HOUR,
    as_dicts,
    build_app_db,
    expected_snapshot,
    fact_sets,
    scenario,
    window_dicts,
)

pytestmark = pytest.mark.integration
E = BOUNDARY
EXTRA = {"1h": 60, "7d": 10080}


# Worked out by hand from `scenario` (tests/fixtures/app_db.py) (default weights 0.6 / 0.3 / 0.1).
HAND = {
    "rust": {
        "posts_24h": 3, "replies": 1, "boosts": 2, "bookmarks": 1, "unique_authors": 3, "participants_24h": 6,
        "posts_6h": 2, "replies_6h": 1, "boosts_6h": 2, "bookmarks_6h": 1, "unique_authors_6h": 2,
        "participant_delta": 6 - 2, "score_24h": 3 * 0.6 + 3 * 0.3 + 2 * 0.1, "score_6h": 2 * 0.6 + 2 * 0.3 + 2 * 0.1,
    },
    "python": {
        "posts_24h": 2, "replies": 0, "boosts": 1, "bookmarks": 2, "unique_authors": 2, "participants_24h": 4,
        "posts_6h": 0, "replies_6h": 0, "boosts_6h": 1, "bookmarks_6h": 1, "unique_authors_6h": 0,
        "participant_delta": 4 - 0, "score_24h": 2 * 0.6 + 2 * 0.3 + 1 * 0.1, "score_6h": 0 * 0.6 + 0 * 0.3 + 1 * 0.1,
    },
}


async def test_known_facts_match_hand_computed_numbers(tmp_path: Path) -> None:
    db = await build_app_db(tmp_path / "app.db", scenario(E), migrated=False)
    snapshot = await recompute_snapshot(db, E, ScoreWeights(), extra_windows=EXTRA, updated_at=123)

    assert snapshot.boundary == E
    assert [r.topic_id for r in snapshot.rows] == ["python", "rust"]  # go has no fact in W24
    for row in snapshot.rows:
        assert row.window_start == E - 24 * HOUR and row.window_end == E and row.updated_at == 123
        assert {k: getattr(row, k) for k in HAND[row.topic_id]} == HAND[row.topic_id]
    windows = {(w.window, w.topic_id): w for w in snapshot.window_rows}
    assert sorted(windows) == [("1h", "python"), ("1h", "rust"), ("7d", "go"), ("7d", "python"), ("7d", "rust")]
    assert (windows["1h", "rust"].posts, windows["1h", "rust"].boosts, windows["1h", "rust"].participants) == (1, 1, 2)
    assert (windows["7d", "go"].posts, windows["7d", "go"].unique_authors) == (2, 1)


async def test_known_facts_match_the_oracle(tmp_path: Path) -> None:
    events = scenario(E)
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    snapshot = await recompute_snapshot(db, E, ScoreWeights(), extra_windows=EXTRA)
    rows, windows = expected_snapshot(events, E, extra_windows=EXTRA)
    assert as_dicts(snapshot.rows) == rows
    assert window_dicts(snapshot.window_rows) == windows


async def test_configured_weights_are_used(tmp_path: Path) -> None:
    events = scenario(E)
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    weights = ScoreWeights(posts=1.0, unique_authors=0.0, boosts=2.5)
    snapshot = await recompute_snapshot(db, E, weights)
    rows, _ = expected_snapshot(events, E, weights=(1.0, 0.0, 2.5))
    assert as_dicts(snapshot.rows) == rows
    assert {r.topic_id: r.score_24h for r in snapshot.rows} == {"python": 2 * 1.0 + 1 * 2.5, "rust": 3 * 1.0 + 2 * 2.5}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=fact_sets(), extra=st.sampled_from([{}, {"1h": 60}, {"7d": 10080, "30m": 30}]))
def test_recompute_equals_the_oracle_on_random_facts(events: list[Event], extra: dict[str, int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = asyncio.run(build_app_db(Path(tmp) / "app.db", events, migrated=False))
        snapshot = asyncio.run(recompute_snapshot(db, E, ScoreWeights(), extra_windows=extra))
    rows, windows = expected_snapshot(events, E, extra_windows=extra)
    assert as_dicts(snapshot.rows) == rows
    assert window_dicts(snapshot.window_rows) == windows


def test_windows_are_read_in_groups_that_do_not_overlap() -> None:
    # The default windows: the last day and the day before are two queries, run at once.
    assert read_groups(window_set()) == [(W24, W6), (WPREV,)]
    # A window touching another's edge is not overlapping it; one spanning both days joins them.
    gap = WindowSpec("gap", 60 * 60_000, lag_ms=50 * 3_600_000)
    assert read_groups((W24, WPREV, gap)) == [(W24,), (WPREV,), (gap,)]
    assert read_groups(window_set({"7d": 10080})) == [(W24, W6, WPREV, window_set({"7d": 10080})[3])]
    rising = ScoreProfile("rising", "rising", rising=RisingParameters())
    (baseline,) = scoring_windows([rising])
    assert read_groups((*window_set(), baseline)) == [(W24, W6, WPREV, baseline)]


def _raw_event(conn: sqlite3.Connection, event_id: str, kind: int, tags: object, at: int, deleted: object = 0) -> None:
    text = tags if isinstance(tags, str) or tags is None else json.dumps(tags)
    conn.execute(
        "INSERT INTO events (event_id, public_key, content, kind, tags, created_at, deleted)"
        " VALUES (?, ?, '', ?, ?, ?, ?)",
        (event_id, f"author-{event_id}", kind, text, at, deleted),
    )


async def test_odd_rows_written_by_other_clients(tmp_path: Path) -> None:
    """Tags that are not JSON or not tag arrays never fail the query; `deleted` must be exactly 0;
    rows a valid event could not carry (no topic, no bookmarking user) count nowhere."""
    db = await build_app_db(tmp_path / "app.db", [Event("root", "post", "t", "alice", E - HOUR)], migrated=False)
    at = E - HOUR
    with sqlite3.connect(db) as conn:
        for event_id, tags in [("bad-json", "{not json"), ("flat", ["e", "root"]), ("object", {"e": "root"}),
                               ("null-tags", None), ("p-tag", [["p", "x"]]), ("bare-e", [["e"]]),
                               ("mention", [["p", "x"], ["e", "root", "", "mention"]])]:
            _raw_event(conn, event_id, 1, tags, at)
        for event_id, deleted in [("del-null", None), ("del-2", 2), ("del-text", "yes")]:
            _raw_event(conn, event_id, 1, [], at, deleted)
        # A boost counts in the topics of its FIRST e tag's post; one without a usable e tag nowhere.
        _raw_event(conn, "other", 1, [], at)
        _raw_event(conn, "boost-two-e", 6, [["p", "x"], ["e", "other"], ["e", "root"]], at)
        _raw_event(conn, "boost-no-e", 6, [["p", "root"]], at)
        _raw_event(conn, "boost-bad", 6, "nope", at)
        conn.executemany(
            "INSERT INTO event_topics (event_id, topic_id) VALUES (?, 't')",
            [(e,) for e in ("bad-json", "flat", "object", "null-tags", "p-tag", "bare-e", "mention",
                            "del-null", "del-2", "del-text")],
        )
        conn.execute("INSERT INTO event_topics (event_id, topic_id) VALUES ('other', 'u')")
        conn.execute("INSERT INTO event_topics (event_id, topic_id) VALUES ('root', NULL)")  # no topic: ignored
        conn.execute(
            "INSERT INTO bookmarks (id, user_pubkey, post_id, created_at) VALUES ('k', NULL, 'root', ?)", (at,)
        )

    snapshot = await recompute_snapshot(db, E, ScoreWeights())
    rows = {r.topic_id: r for r in snapshot.rows}
    assert sorted(rows) == ["t", "u"]
    # t: root + 7 kind-1 rows, of which bare-e and mention are replies; deleted rows and the
    # bookmark without a user are left out.
    assert (rows["t"].posts_24h, rows["t"].replies, rows["t"].boosts, rows["t"].bookmarks) == (8, 2, 0, 0)
    assert (rows["u"].posts_24h, rows["u"].boosts, rows["u"].participants_24h) == (1, 1, 2)


async def test_facts_outside_the_read_span_are_not_read(tmp_path: Path) -> None:
    events = [Event("old", "post", "t", "a", E - 48 * HOUR - 1), Event("future", "post", "t", "a", E + HOUR)]
    db = await build_app_db(tmp_path / "app.db", events, migrated=False)
    assert (await recompute_snapshot(db, E, ScoreWeights())).rows == []


async def test_an_unreadable_database_raises(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="unable to open"):
        await recompute_snapshot(tmp_path / "missing.db", E, ScoreWeights())
    sqlite3.connect(tmp_path / "empty.db").close()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await recompute_snapshot(tmp_path / "empty.db", E, ScoreWeights())


async def test_recompute_does_not_write(tmp_path: Path) -> None:
    db = await build_app_db(tmp_path / "app.db", scenario(E))
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.read_bytes()
    await recompute_snapshot(db, E, ScoreWeights(), extra_windows=EXTRA)
    assert db.read_bytes() == before
    assert not (tmp_path / "app.db-wal").exists() or (tmp_path / "app.db-wal").stat().st_size == 0
