"""Window tallies (`streams.sliding.Tally`, whose `inputs` applies caps for the stream and the batch)
fed facts one at a time, in arrival order, the way the stream classifies them, without the stream's
store or its sliding windows; `tests/streams/test_author_boosts.py` checks the stream's own window
state against the same oracle.

Duplicates are recognised by identity, deletes retract (or wait for) their target, boosts are
classified by `is_self_boost` on arrival or, when their target comes later, by `PendingBoosts`;
every live fact is counted into a `Tally` of its 5-minute pane, and a window's tally is the
merge of its panes. The tests compare what this yields with the brute-force oracle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.events import Event
from streams.metrics import CONTRIBUTIONS
from streams.scoring import NO_INPUTS, Need, ScoreInputs, ScoreProfile, is_self_boost
from streams.self_boosts import PendingBoosts, WaitingBoost
from streams.sliding import Tally
from streams.windows import pane_start


@dataclass
class _Fact:
    event: Event
    retracted: bool
    self_boost: bool


def count_fact(tally: Tally, kind: str, author: str, self_boost: bool, sign: int) -> None:
    """Count (sign 1) or uncount (sign -1) one fact in `tally` as the stream does: its counters,
    then, for a boost, its booster's counts."""
    c = CONTRIBUTIONS[kind]  # type: ignore[index]
    tally.add(c.posts, c.replies, c.boosts, c.bookmarks, author, c.authors, c.participants, sign)
    if kind == "boost":
        tally.add_boost(author, sign, sign if self_boost else 0)


class FoldedFacts:
    def __init__(self) -> None:
        self.facts: dict[tuple[str, str], _Fact] = {}
        self.tombstones: set[tuple[str, str]] = set()
        self.pending = PendingBoosts()
        self.panes: dict[tuple[int, str], Tally] = {}

    def apply(self, e: Event) -> None:
        key = (e.topic_id, e.event_id)
        if key in self.facts:
            return
        if e.kind == "delete":
            self.facts[key] = _Fact(e, False, False)
            target = self.facts.get((e.topic_id, e.target_id or ""))
            if target is None:
                self.tombstones.add((e.topic_id, e.target_id or ""))
            elif not target.retracted and target.event.kind != "delete":
                target.retracted = True
                self._count(target, -1)
            return
        fact = _Fact(e, key in self.tombstones, False)
        if e.kind == "boost":
            target = self.facts.get((e.topic_id, e.target_id or ""))
            if target is None:
                self.pending.wait(e.topic_id, e.target_id or "", WaitingBoost(e.event_id, e.author, e.created_at))
            else:
                fact.self_boost = is_self_boost(e.author, e.created_at, target.event)
        self.facts[key] = fact
        if not fact.retracted:
            self._count(fact, 1)
        for waiting in self.pending.target_arrived(e.topic_id, e.event_id, e):
            boost = self.facts[(e.topic_id, waiting.boost_id)]
            if not boost.retracted:
                self._count(boost, -1)
            boost.self_boost = True
            if not boost.retracted:
                self._count(boost, 1)

    def _count(self, fact: _Fact, sign: int) -> None:
        e = fact.event
        tally = self.panes.setdefault((pane_start(e.created_at), e.topic_id), Tally())
        count_fact(tally, e.kind, e.author, fact.self_boost, sign)

    def window(self, start: int, end: int) -> dict[str, Tally]:
        result: dict[str, Tally] = {}
        for (pane, topic), tally in self.panes.items():
            if start <= pane < end:
                result.setdefault(topic, Tally()).merge(tally, 1)
        return {t: tally for t, tally in result.items() if not tally.empty}


def fold(events: Iterable[Event]) -> FoldedFacts:
    folded = FoldedFacts()
    for e in events:
        folded.apply(e)
    return folded


def inputs_by_topic(folded: FoldedFacts, need: Need, boundary: int) -> dict[str, ScoreInputs]:
    start, end = need.window.bounds(boundary)
    return {
        topic: tally.inputs(need.cap, need.count_self_boosts)
        for topic, tally in folded.window(start, end).items()
    }


def profile_inputs(folded: FoldedFacts, profile: ScoreProfile, boundary: int) -> dict[str, list[ScoreInputs]]:
    """topic_id -> the inputs of every need of `profile`, in order, as `score_topic` takes them."""
    by_need = [inputs_by_topic(folded, need, boundary) for need in profile.needs]
    topics = sorted({topic for inputs in by_need for topic in inputs})
    return {topic: [inputs.get(topic, NO_INPUTS) for inputs in by_need] for topic in topics}
