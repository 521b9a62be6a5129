"""The running window tallies (`streams.sliding`): compaction of their author maps."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

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
