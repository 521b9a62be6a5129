"""A brute-force statement of the score profiles' inputs (docs/scoring.md), for checking the real code.

Written from the documentation's words, not from `streams.capped`: for every topic it walks the
whole fact list, counts each author's posts and boosts in the window and caps them one by one.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.events import Event
from streams.scoring import ScoreInputs

HOUR = 3_600_000


def facts_by_identity(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    """The first delivery of every fact, retracted or not (a duplicate changes nothing)."""
    unique: dict[tuple[str, str], Event] = {}
    for e in events:
        unique.setdefault((e.topic_id, e.event_id), e)
    return unique


def live(events: Iterable[Event]) -> list[Event]:
    """Facts that no delete of the same topic names; deletes themselves count nowhere."""
    unique = facts_by_identity(events)
    deleted = {(e.topic_id, e.target_id) for e in unique.values() if e.kind == "delete"}
    return [e for e in unique.values() if e.kind != "delete" and (e.topic_id, e.event_id) not in deleted]


def self_boost(boost: Event, known: dict[tuple[str, str], Event]) -> bool:
    """The booster's own post or reply of the same topic, retracted or not, at most 24 h older."""
    target = known.get((boost.topic_id, boost.target_id or ""))
    return (
        target is not None and target.kind in ("post", "reply") and target.author == boost.author
        and boost.created_at - target.created_at <= 24 * HOUR
    )


def expected_inputs(
    events: Iterable[Event], start: int, end: int, cap: int | None, count_self_boosts: bool
) -> dict[str, ScoreInputs]:
    """topic_id -> inputs of the window [start, end), for every topic with a live post or boost in it."""
    events = list(events)
    known = facts_by_identity(events)
    facts = [e for e in live(events) if start <= e.created_at < end]
    result: dict[str, ScoreInputs] = {}
    for topic in sorted({e.topic_id for e in facts}):
        posts: dict[str, int] = {}
        boosts: dict[str, int] = {}
        for e in facts:
            if e.topic_id != topic:
                continue
            if e.kind in ("post", "reply"):
                posts[e.author] = posts.get(e.author, 0) + 1
            elif e.kind == "boost" and (count_self_boosts or not self_boost(e, known)):
                boosts[e.author] = boosts.get(e.author, 0) + 1
        if not posts and not boosts:
            continue

        def capped(counts: dict[str, int]) -> int:
            return sum(n if cap is None else min(n, cap) for n in counts.values())

        result[topic] = ScoreInputs(capped(posts), capped(boosts), len(posts))
    return result
