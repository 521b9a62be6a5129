"""The running window tallies (`streams.sliding`): sliding them over panes built from the panes logs, and compaction of their author maps."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from streams.metrics import CONTRIBUTIONS
from streams.sliding import COMPACT_EVERY, SlidingWindows, Tally
from streams.windows import HOUR_MS, PANE_MS, W6, W24, WPREV, WindowSpec

E = 1_700_000_100_000 - 1_700_000_100_000 % PANE_MS
WINDOWS = (W24, W6, WPREV)

facts = st.lists(
    st.tuples(
        st.sampled_from(["post", "reply", "boost", "bookmark"]),
        st.sampled_from(["t1", "t2", "t3"]),
        st.integers(min_value=0, max_value=40),  # author
        st.integers(min_value=0, max_value=12 * 24 * 2),  # panes before E
    ),
    max_size=80,
)


def _state(tallies: dict[str, dict[str, Tally]]) -> dict[str, dict[str, tuple[object, ...]]]:
    return {
        name: {
            topic: (t.counts(), dict(t.authors), dict(t.participants), t.boosters, t.self_boosters)
            for topic, t in by_topic.items()
        }
        for name, by_topic in tallies.items()
    }


@given(facts, st.integers(min_value=1, max_value=2 * COMPACT_EVERY))
def test_compacting_never_changes_what_a_window_holds(
    added: list[tuple[str, str, int, int]], boundaries: int
) -> None:
    compacted = SlidingWindows(WINDOWS, E)
    plain = SlidingWindows(WINDOWS, E)
    for kind, topic, author, panes_back in added:
        for windows in (compacted, plain):
            windows.add_fact(topic, kind, f"a{author}", E - panes_back * PANE_MS, 1)
    for i in range(1, boundaries + 1):
        compacted.advance(E + i * PANE_MS)
    for kind, topic, author, panes_back in added[::2]:
        compacted.add_fact(topic, kind, f"a{author}", E - panes_back * PANE_MS, -1)
        plain.add_fact(topic, kind, f"a{author}", E - panes_back * PANE_MS, -1)
    plain.advance(E + boundaries * PANE_MS)
    compacted.advance(E + (boundaries + 1) * PANE_MS)
    plain.advance(E + (boundaries + 1) * PANE_MS)
    assert _state(compacted.tallies) == _state(plain.tallies)


def test_every_running_tally_is_compacted_once_per_round() -> None:
    # Windows that hold their facts for the whole round (a round is shorter than 12 hours).
    windows = SlidingWindows((W24, WindowSpec("12h", 12 * HOUR_MS), WPREV), E)
    for i in range(500):
        windows.add_fact(f"t{i}", "post", "a", E - PANE_MS, 1)
        windows.add_fact(f"t{i}", "post", "a", E - 25 * HOUR_MS, 1)
    before = {name: {topic: id(t.participants) for topic, t in by_topic.items()}
              for name, by_topic in windows.tallies.items()}
    for i in range(1, COMPACT_EVERY + 1):
        windows.advance(E + i * PANE_MS)
    for name, by_topic in windows.tallies.items():
        assert by_topic, name
        assert all(id(t.participants) != before[name][topic] for topic, t in by_topic.items()), name


def test_a_churned_author_map_shrinks_back_when_compacted() -> None:
    tally = Tally()
    for author in range(100):
        tally.add(1, 0, 0, 0, f"a{author}", True, True, 1)
    for step in range(100, 2000):  # authors keep entering and leaving: 100 live at any time
        tally.add(1, 0, 0, 0, f"a{step}", True, True, 1)
        tally.add(1, 0, 0, 0, f"a{step - 100}", True, True, -1)
    churned = sys.getsizeof(tally.participants)
    tally.compact()
    assert len(tally.participants) == len(tally.authors) == 100
    assert sys.getsizeof(tally.participants) < churned
    assert tally.counts().posts == 100


def _oracle(live: list[tuple[str, str, str, int, int]], boundary: int) -> dict[str, dict[str, Tally]]:
    """Every window's tallies at `boundary`, counted afresh from the live facts (kind, topic,
    author, created_at, self-boost)."""
    result: dict[str, dict[str, Tally]] = {}
    for window in WINDOWS:
        start, end = window.bounds(boundary)
        by_topic: dict[str, Tally] = {}
        for kind, topic, author, created_at, self_boost in live:
            if start <= created_at < end:
                c = CONTRIBUTIONS[kind]
                tally = by_topic.setdefault(topic, Tally())
                tally.add(c.posts, c.replies, c.boosts, c.bookmarks, author, c.authors, c.participants, 1)
                if kind == "boost":
                    tally.add_boost(author, 1, self_boost)
        result[window.name] = by_topic
    return result


def _normal(tallies: dict[str, dict[str, Tally]]) -> dict[str, dict[str, tuple[object, ...]]]:
    """`_state` with no difference between a booster map that is missing and one that is empty."""
    return {
        name: {
            topic: (t.counts(), dict(t.authors), dict(t.participants), dict(t.boosters or {}),
                    dict(t.self_boosters or {}))
            for topic, t in by_topic.items()
        }
        for name, by_topic in tallies.items()
    }


steps = st.lists(
    st.one_of(
        st.tuples(st.just("count"), st.sampled_from(["post", "reply", "boost", "bookmark"]),
                  st.sampled_from(["t1", "t2"]), st.integers(0, 5), st.integers(-2, 12 * 49), st.booleans()),
        st.tuples(st.just("uncount"), st.integers(0, 1000)),
        st.tuples(st.just("self_boost"), st.integers(0, 1000)),
        st.tuples(st.just("advance"), st.integers(1, 3 * 12 * 24)),
        st.tuples(st.just("read_past"), st.integers(1, 12 * 24)),
    ),
    max_size=60,
)


@given(steps)
def test_windows_over_pane_logs_equal_counting_afresh(ops: list[tuple]) -> None:
    """Counting, uncounting, booster changes and slides in any order, with panes read (built from
    their logs) at any point: every window at the head, and at a past boundary summed from the
    panes, holds what counting the live facts afresh gives."""
    windows = SlidingWindows(WINDOWS, E)
    live: list[tuple[str, str, str, int, int]] = []
    for op in ops:
        head = windows.head
        if op[0] == "count":
            _, kind, topic, author, panes_back, self_boost = op
            created_at = head - panes_back * PANE_MS + 1
            if created_at < head - 48 * HOUR_MS:
                continue  # past the retention: the state never folds it
            windows.add_fact(topic, kind, f"a{author}", created_at, 1)
            if kind == "boost":
                windows.add_boost(topic, f"a{author}", created_at, 1, int(self_boost))
            live.append((kind, topic, f"a{author}", created_at, int(self_boost and kind == "boost")))
        elif op[0] == "uncount" and live:
            kind, topic, author, created_at, self_boost = live.pop(op[1] % len(live))
            if kind == "boost":
                windows.add_boost(topic, author, created_at, -1, -self_boost)
            windows.add_fact(topic, kind, author, created_at, -1)
        elif op[0] == "self_boost" and live:
            i = op[1] % len(live)
            kind, topic, author, created_at, self_boost = live[i]
            if kind == "boost" and not self_boost:
                windows.add_boost(topic, author, created_at, 0, 1)
                live[i] = (kind, topic, author, created_at, 1)
        elif op[0] == "advance":
            windows.advance(head + op[1] * PANE_MS)
            windows.drop_panes_before(windows.head - 48 * HOUR_MS)
            live = [f for f in live if f[3] >= windows.head - 48 * HOUR_MS]
        elif op[0] == "read_past":
            past = head - op[1] * PANE_MS
            assert _normal(dict(windows.tallies_at(past))) == _normal(_oracle(live, past))
    assert _normal(windows.tallies) == _normal(_oracle(live, windows.head))
