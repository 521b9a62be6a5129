"""The pure diff: which rows are missing, extra or changed, and which cells, with both values."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconcile.diff import diff_snapshot, diff_to_json, format_diff
from streams.metrics import TopicMetrics, WindowMetrics

E = 1_700_000_100_000


def row(topic: str, **changes: Any) -> TopicMetrics:
    base = TopicMetrics(
        topic_id=topic, window_start=E - 86_400_000, window_end=E, posts_24h=4, posts_6h=2, unique_authors=3,
        boosts=1, replies=1, bookmarks=0, participant_delta=2, score_24h=4 * 0.6 + 3 * 0.3 + 1 * 0.1,
        score_6h=1.5, updated_at=1, unique_authors_6h=2, boosts_6h=0, replies_6h=1, bookmarks_6h=0,
        participants_24h=4,
    )
    return replace(base, **changes)


def wrow(window: str, topic: str, posts: int = 1) -> WindowMetrics:
    return WindowMetrics(topic, E, window, E - 3_600_000, posts, 0, 0, 0, 1, 1, posts * 0.6 + 0.3, 1)


def test_identical_snapshots_are_clean_whatever_updated_at() -> None:
    diff = diff_snapshot(E, [row("a"), row("b")], [row("b", updated_at=99), row("a", updated_at=42)])
    assert diff.clean
    assert (diff.recomputed, diff.stored, diff.topics_affected, diff.cells_changed) == (2, 2, 0, 0)
    assert format_diff(diff) == []


def test_missing_extra_and_changed_rows() -> None:
    diff = diff_snapshot(E, [row("a"), row("b", posts_24h=5)], [row("b"), row("c")])
    assert [(d.status, d.topic_id) for d in diff.rows] == [("missing", "a"), ("changed", "b"), ("extra", "c")]
    changed = diff.rows[1]
    assert [(c.column, c.stored, c.recomputed) for c in changed.cells] == [("posts_24h", 4, 5)]
    # Every compared column of an added or removed row counts as changed: 16 = 18 columns
    # minus topic_id and updated_at.
    assert (diff.count("missing"), diff.count("extra"), diff.count("changed")) == (1, 1, 1)
    assert diff.cells_changed == 16 + 1 + 16
    assert diff.topics_affected == 3


def test_scores_are_compared_with_a_tolerance_and_counts_exactly() -> None:
    stored = row("a", score_24h=row("a").score_24h + 1e-13)
    assert diff_snapshot(E, [row("a")], [stored]).clean
    assert not diff_snapshot(E, [row("a")], [row("a", score_24h=3.41)]).clean
    # A stored value of the wrong type is drift, even when it looks equal.
    assert not diff_snapshot(E, [row("a")], [row("a", posts_24h="4")]).clean


def test_duplicate_stored_rows_for_a_topic_are_extra() -> None:
    diff = diff_snapshot(E, [row("a")], [row("a"), row("a", window_start=E - 1)])
    assert [(d.status, d.topic_id) for d in diff.rows] == [("extra", "a")]
    assert diff.stored == 1


def test_extra_window_rows_are_matched_by_window_and_topic() -> None:
    diff = diff_snapshot(
        E, [], [], recomputed_windows=[wrow("1h", "a"), wrow("7d", "a", 3)],
        stored_windows=[wrow("7d", "a", 2), wrow("1h", "b")],
    )
    assert [(d.status, d.window, d.topic_id) for d in diff.window_rows] == [
        ("missing", "1h", "a"), ("extra", "1h", "b"), ("changed", "7d", "a"),
    ]
    assert [c.column for c in diff.window_rows[2].cells] == ["posts", "score"]
    assert not diff.clean and diff.rows == ()
    assert diff.topics_affected == 2


def test_text_report_names_topics_columns_and_both_values() -> None:
    diff = diff_snapshot(
        E, [row("a"), row("b", posts_24h=5, boosts=2)], [row("b"), row("c")],
        recomputed_windows=[wrow("1h", "a")],
    )
    assert format_diff(diff) == [
        f"  missing  a  posts_24h=4 unique_authors=3 boosts=1 score_24h={row('a').score_24h!r}",
        "  changed  b  posts_24h 4 -> 5, boosts 1 -> 2",
        f"  extra    c  posts_24h=4 unique_authors=3 boosts=1 score_24h={row('c').score_24h!r}",
        "  missing  a @1h  posts=1 score=0.8999999999999999",
    ]


def test_json_report() -> None:
    diff = diff_snapshot(E, [row("b", posts_24h=5)], [row("b")], recomputed_windows=[wrow("1h", "b")])
    body = diff_to_json(diff)
    assert body["clean"] is False
    assert (body["missing"], body["extra"], body["changed"], body["cells_changed"]) == (0, 0, 1, 1 + 8)
    assert body["rows"] == [
        {"status": "changed", "topic_id": "b", "columns": {"posts_24h": {"stored": 4, "recomputed": 5}}}
    ]
    assert body["window_rows"][0]["window"] == "1h"
    assert body["window_rows"][0]["columns"]["posts"] == {"stored": None, "recomputed": 1}
