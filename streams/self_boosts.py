"""Boosts waiting for their target, so self-boosts are recognised whatever order facts arrive in.

A boost event names only its target (`target_id`); whether it is a self-boost depends on the
target's author (`streams.scoring.is_self_boost`). When the target is already known in the topic,
the boost is classified on arrival. Otherwise it is counted as an ordinary boost and waits here;
when the target arrives, every waiting boost of it is classified again, and those that turn out to
be self-boosts move from "other boosts" to "self-boosts" in their tallies. The classification then
depends only on the set of facts, as the reconciliation's SQL sees them.

This is the in-memory form of the index; the stream persists the same entries next to its fact
records (docs/scoring.md, "What the stream keeps") and expires them with the boost.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.scoring import TargetFact, is_self_boost


@dataclass(frozen=True, slots=True)
class WaitingBoost:
    boost_id: str
    booster: str
    created_at: int


class PendingBoosts:
    """Boosts of targets not seen yet, by (topic_id, target_id).

    >>> from streams.state_keys import FactRecord
    >>> pending = PendingBoosts()
    >>> pending.wait("t", "p1", WaitingBoost("b1", "alice", 2_000))
    >>> pending.wait("t", "p1", WaitingBoost("b2", "bob", 2_000))
    >>> [b.boost_id for b in pending.target_arrived("t", "p1", FactRecord("post", False, 1_000, "alice", ""))]
    ['b1']
    >>> len(pending)
    0
    """

    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], dict[str, WaitingBoost]] = {}

    def wait(self, topic_id: str, target_id: str, boost: WaitingBoost) -> None:
        self._waiting.setdefault((topic_id, target_id), {})[boost.boost_id] = boost

    def target_arrived(self, topic_id: str, target_id: str, target: TargetFact) -> list[WaitingBoost]:
        """The waiting boosts that are self-boosts of this target; the target is known from now on,
        so nothing waits for it any more."""
        waiting = self._waiting.pop((topic_id, target_id), {})
        return [b for b in waiting.values() if is_self_boost(b.booster, b.created_at, target)]

    def has(self, topic_id: str, target_id: str) -> bool:
        return (topic_id, target_id) in self._waiting

    def take(self, topic_id: str, target_id: str) -> list[WaitingBoost]:
        """Every boost waiting for this target, which no longer waits."""
        return list(self._waiting.pop((topic_id, target_id), {}).values())

    def expire_before(self, cutoff: int) -> list[tuple[str, str, str]]:
        """Forget boosts created before `cutoff` (they left the retained state); returns their
        `(topic_id, target_id, boost_id)`."""
        expired = []
        for key in list(self._waiting):
            kept = {}
            for boost_id, boost in self._waiting[key].items():
                if boost.created_at >= cutoff:
                    kept[boost_id] = boost
                else:
                    expired.append((*key, boost_id))
            if kept:
                self._waiting[key] = kept
            else:
                del self._waiting[key]
        return expired

    def __len__(self) -> int:
        return sum(len(v) for v in self._waiting.values())
