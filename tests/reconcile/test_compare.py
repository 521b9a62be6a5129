"""`compare_history`: per boundary, topics on one side only and the columns that differ."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from reconcile.compare import ChangedColumn, compare_history, comparison_to_json, format_comparison
from streams.metrics import TopicMetrics
from tests.sinks.test_snapshot_writer import row

E = 1_700_000_000_000 - 1_700_000_000_000 % 300_000


def test_reports_topics_on_one_side_and_changed_columns_per_boundary() -> None:
    before = E - 300_000
    history = {E: [row("a", E, 1), row("b", E, 2)], before: [row("a", before, 1)]}
    metrics = {
        E: [replace(row("b", E, 2), boosts=4, score_24h=9.0, updated_at=123), row("c", E, 3)],
        E + 300_000: [row("d", E + 300_000, 1)],
    }
    by_boundary = {c.boundary: c for c in compare_history(history, metrics)}

    assert sorted(by_boundary) == [before, E, E + 300_000]
    now = by_boundary[E]
    assert (now.only_in_history, now.only_in_metrics) == (("a",), ("c",))
    # updated_at is never compared; values are (history, topic_metrics).
    assert now.changed == {"b": (ChangedColumn("boosts", 0, 4), ChangedColumn("score_24h", 1.5, 9.0))}
    assert (now.history_topics, now.metrics_topics) == (2, 2)
    assert by_boundary[before].only_in_history == ("a",) and not by_boundary[before].only_in_metrics
    assert by_boundary[E + 300_000].only_in_metrics == ("d",)
    assert not any(c.agrees for c in by_boundary.values())


def test_a_score_within_rounding_is_no_change() -> None:
    stored = replace(row("a", E, 1), score_24h=row("a", E, 1).score_24h * (1 + 1e-12))
    (only,) = compare_history({E: [row("a", E, 1)]}, {E: [stored]})
    assert only.agrees


rows = st.lists(st.builds(lambda t, p: row(t, E, p), st.sampled_from("abcdef"), st.integers(0, 3)),
                unique_by=lambda r: r.topic_id)


@given(rows, rows)
def test_every_topic_is_accounted_for_once(history: list[TopicMetrics], metrics: list[TopicMetrics]) -> None:
    (c,) = compare_history({E: history}, {E: metrics})
    mine, theirs = {r.topic_id for r in history}, {r.topic_id for r in metrics}
    assert set(c.only_in_history) == mine - theirs and set(c.only_in_metrics) == theirs - mine
    differ = {t for t in mine & theirs
              if next(r for r in history if r.topic_id == t) != next(r for r in metrics if r.topic_id == t)}
    assert set(c.changed) == differ
    assert (c.history_topics, c.metrics_topics) == (len(history), len(metrics))
    body = comparison_to_json(c)
    assert body["agrees"] == c.agrees and set(body["changed"]) == differ
    assert len(format_comparison(c)) == len(c.only_in_history) + len(c.only_in_metrics) + len(differ)
    assert c.agrees == (mine == theirs and not differ)


def test_json_and_lines_say_which_side_holds_what() -> None:
    (c,) = compare_history({E: [row("a", E, 1), row("b", E, 2)]}, {E: [replace(row("b", E, 2), posts_24h=5)]})
    assert comparison_to_json(c) == {
        "window_end": E, "agrees": False, "history_topics": 2, "metrics_topics": 1,
        "only_in_history": ["a"], "only_in_metrics": [],
        "changed": {"b": {"posts_24h": {"history": 2, "topic_metrics": 5}}},
    }
    assert format_comparison(c) == ["  only in history          a", "  changed                  b  posts_24h 2 -> 5"]
