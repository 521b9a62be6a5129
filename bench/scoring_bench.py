"""What score profiles add to the stream: per event (caps and self-boost counters next to the metric
tallies) and per snapshot (scoring every profile and ranking), before they are wired in.

    python -m bench.scoring_bench [--events 300000] [--topics 1000,10000,100000]

The fold measured is the in-memory part only (pane and window tallies; no RocksDB, no Kafka), so the
extra cost is also shown as a share of the whole worker's cost per event from docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from streams.capped import ScoringTally, add_boosts, capped_change
from streams.metrics import CONTRIBUTIONS
from streams.scoring import (
    DEFAULT,
    RISING,
    ScoreInputs,
    ScoreProfile,
    rank_topics,
    score_topic,
    scoring_windows,
    tracked_caps,
)
from streams.sliding import SlidingWindows, Tally
from streams.windows import HOUR_MS, PANE_MS, WindowSpec, window_set

WORKER_EVENTS_PER_S = 48_813  # docs/benchmarks.md, ingest through the real broker into one worker
KINDS = ("post", "post", "reply", "boost", "boost", "bookmark")
SEED = 12


def _events(n: int, boundary: int) -> list[tuple[str, str, str, int, bool]]:
    rnd = random.Random(SEED)
    return [
        (f"topic-{int(rnd.paretovariate(1.2)) % 5000}", rnd.choice(KINDS), f"u{rnd.randrange(10_000)}",
         boundary - rnd.randrange(26 * HOUR_MS), rnd.random() < 0.05)
        for _ in range(n)
    ]


def count_kind(tally: Tally, kind: str, author: str, sign: int) -> None:
    """Count one fact of `kind` into a metric tally, as the stream's fold does."""
    c = CONTRIBUTIONS[kind]  # type: ignore[index]
    tally.add(c.posts, c.replies, c.boosts, c.bookmarks, author, c.authors, c.participants, sign)


class SeparateTallies(SlidingWindows):
    """`SlidingWindows.add_fact` plus, in the same loop, a `ScoringTally` per pane (no caps) and per
    window (only that window's caps) beside each metric `Tally`."""

    def __init__(self, windows: tuple[WindowSpec, ...], profiles: tuple[ScoreProfile, ...], head: int) -> None:
        super().__init__(windows, head)
        self.caps = {w.name: tracked_caps(profiles, w) for w in windows}
        self.scoring_panes: dict[tuple[int, str], ScoringTally] = {}
        self.scoring: dict[str, dict[str, ScoringTally]] = {w.name: {} for w in windows}

    def add_scored_fact(self, topic: str, kind: str, author: str, created_at: int, self_boost: bool) -> None:
        pane = created_at - created_at % PANE_MS
        count_kind(self.pane_tally(pane, topic), kind, author, 1)
        scored = self.scoring_panes.get((pane, topic))
        if scored is None:
            scored = self.scoring_panes[(pane, topic)] = ScoringTally()
        scored.add_fact(kind, author, self_boost, 1)
        head = self.head
        for window in self.windows:
            if window.contains(head, created_at):
                by_topic = self.tallies[window.name]
                acc = by_topic.get(topic)
                if acc is None:
                    acc = by_topic[topic] = Tally()
                count_kind(acc, kind, author, 1)
                scores = self.scoring[window.name]
                acc_scored = scores.get(topic)
                if acc_scored is None:
                    acc_scored = scores[topic] = ScoringTally(self.caps[window.name])
                acc_scored.add_fact(kind, author, self_boost, 1)


class ScoredTally(Tally):
    """A metric `Tally` that also keeps the capped sums: posts reuse its per-author reference counts
    (`authors` counts each author's live posts and replies), boosts add one per-booster count."""

    __slots__ = ("boost_sums", "boosters", "caps", "other_sums", "own_boosts", "post_sums")

    def __init__(self, caps: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.caps = caps
        self.post_sums, self.boost_sums, self.other_sums = [0] * len(caps), [0] * len(caps), [0] * len(caps)
        self.boosters: dict[str, int] = {}
        self.own_boosts: dict[str, int] = {}

    def add_scored(self, kind: str, author: str, self_boost: bool, sign: int) -> None:
        count_kind(self, kind, author, sign)
        if kind == "boost":
            add_boosts(self.boosters, self.own_boosts, author, sign, sign if self_boost else 0,
                       self.caps, self.boost_sums, self.other_sums)
        elif self.caps and (kind == "post" or kind == "reply"):
            new = self.authors.get(author, 0)
            capped_change(new - sign, new, self.caps, self.post_sums)


class IntegratedTallies(SlidingWindows):
    """The same work with `ScoredTally` in place of `Tally`: the shape recommended for the stream."""

    def __init__(self, windows: tuple[WindowSpec, ...], profiles: tuple[ScoreProfile, ...], head: int) -> None:
        super().__init__(windows, head)
        self.caps = {w.name: tracked_caps(profiles, w) for w in windows}

    def add_scored_fact(self, topic: str, kind: str, author: str, created_at: int, self_boost: bool) -> None:
        by_pane = self.panes.setdefault(created_at - created_at % PANE_MS, {})
        tally = by_pane.get(topic)
        if tally is None:
            tally = by_pane[topic] = ScoredTally()
        tally.add_scored(kind, author, self_boost, 1)  # type: ignore[attr-defined]
        head = self.head
        for window in self.windows:
            if window.contains(head, created_at):
                by_topic = self.tallies[window.name]
                acc = by_topic.get(topic)
                if acc is None:
                    acc = by_topic[topic] = ScoredTally(self.caps[window.name])
                acc.add_scored(kind, author, self_boost, 1)  # type: ignore[attr-defined]


def _time(fn: Callable[[], None]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def fold_costs(n: int, repeats: int) -> tuple[float, float, float]:
    """Microseconds per event, the best of `repeats` runs on fresh state: the metric tallies alone
    (today's stream windows), then with the scoring of default + rising (which adds the 6 h window's
    baseline) kept separately and inside the metric tallies."""
    boundary = (int(time.time() * 1000) // PANE_MS) * PANE_MS
    events = _events(n, boundary)
    profiles = (DEFAULT, RISING)
    windows = (*window_set(), *scoring_windows(profiles))

    def metrics() -> None:
        fold = SlidingWindows(window_set(), boundary)
        for topic, kind, author, at, _ in events:
            fold.add_fact(topic, kind, author, at, 1)

    def scored(make: Callable[[], SeparateTallies | IntegratedTallies]) -> Callable[[], None]:
        def run() -> None:
            fold = make()
            for topic, kind, author, at, self_boost in events:
                fold.add_scored_fact(topic, kind, author, at, self_boost and kind == "boost")
        return run

    runs = (
        metrics,
        scored(lambda: SeparateTallies(windows, profiles, boundary)),
        scored(lambda: IntegratedTallies(windows, profiles, boundary)),
    )
    best = [min(_time(fn) for _ in range(repeats)) / n * 1e6 for fn in runs]
    return best[0], best[1], best[2]


def snapshot_cost(topics: int) -> tuple[float, float]:
    """Milliseconds to score and rank `topics` topics: the default profile alone, and default + rising."""
    rnd = random.Random(SEED)
    inputs = {
        profile.name: {
            f"topic-{i:06d}": [ScoreInputs(rnd.randrange(50), rnd.randrange(20), rnd.randrange(1, 20))
                               for _ in profile.needs]
            for i in range(topics)
        }
        for profile in (DEFAULT, RISING)
    }

    def run(profiles: tuple[ScoreProfile, ...]) -> None:
        for profile in profiles:
            rank_topics((t, score_topic(profile, x), 0) for t, x in inputs[profile.name].items())

    return _time(lambda: run((DEFAULT,))) * 1000, _time(lambda: run((DEFAULT, RISING))) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--topics", default="1000,10000,100000")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs of each fold")
    args = parser.parse_args(argv)

    base, separate, integrated = fold_costs(args.events, args.repeats)
    worker_us = 1e6 / WORKER_EVENTS_PER_S
    print(f"{args.events:,} events over 5,000 topics and 26 h, profiles default + rising (caps 5 and 20),")
    print(f"best of {args.repeats} runs; the fold's state is built from scratch in each run;")
    print(f"added cost as a share of the worker's {worker_us:.1f} µs per event (docs/benchmarks.md)")
    print("| fold | µs/event | added µs/event | added share |")
    print("|---|---:|---:|---:|")
    print(f"| metric tallies (24h, 6h, previous 24h) | {base:.2f} | | |")
    for name, cost in (("separate `ScoringTally`s", separate), ("capped sums inside the metric tally", integrated)):
        print(f"| + scoring, {name} | {cost:.2f} | {cost - base:.2f} | {(cost - base) / worker_us:.1%} |")
    print()
    print("| active topics | score + rank default (ms) | default + rising (ms) |")
    print("|---:|---:|---:|")
    for topics in [int(t) for t in args.topics.split(",")]:
        one, two = snapshot_cost(topics)
        print(f"| {topics:,} | {one:.0f} | {two:.0f} |")


if __name__ == "__main__":
    main()
