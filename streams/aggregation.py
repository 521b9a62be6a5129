"""Fold events into per-topic window state with O(1) work per event.

State per partition:
- fact records on the store, keyed by identity: duplicates are recognised across restarts, and a
  delete knows what it retracts;
- in memory (`streams.sliding`), 5-minute pane tallies (logged per pane, built when the pane
  slides) and one running tally per window and topic for the current boundary (`head`). An event
  updates its pane and each window that contains it;
  moving the boundary subtracts the panes that leave a window and adds those that enter it. Each
  pane enters and leaves every window once, so the cost per event stays constant whatever the
  window lengths, and a snapshot at the head reads the 24h tallies directly: O(active topics).

Pane tallies and window tallies are derived data, rebuilt from the fact records at start-up.
Distinct authors are kept as reference counts, so retracting a fact removes its author exactly
when no other live fact of that author remains in the window.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, NamedTuple

from streams.author_inputs import author_inputs
from streams.events import Fact
from streams.metrics import (
    Snapshot,
    build_snapshot,
)
from streams.scoring import Scoring, computed_profiles, is_self_boost, needs_author_counts
from streams.self_boosts import PendingBoosts, WaitingBoost
from streams.sliding import SlidingWindows, Tally
from streams.state_keys import (
    FactRecord,
    classified_key,
    decode_fingerprint,
    decode_waiting_boost,
    encode_fact,
    encode_fingerprint,
    encode_waiting_boost,
    fact_key,
    fact_prefix,
    fact_range,
    fingerprint_key,
    identity_key,
    legacy_time_range,
    lineage_key,
    offset_key,
    partition_range,
    split_identity_key,
    split_time_entries,
    split_waiting_boost_key,
    time_entry,
    time_prefix,
    time_range,
    tombstone_key,
    tombstone_range,
    waiting_boost_key,
    waiting_boost_range,
)
from streams.state_store import StateStore
from streams.windows import PANE_MS, W6, W24, WPREV, WindowSpec, align_down, pane_start

Result = Literal["counted", "duplicate", "retracted", "late"]


class BoundaryOutOfRange(ValueError):
    """A snapshot was asked for a boundary the window state no longer covers (use reconcile)."""


class ArrivedTarget(NamedTuple):
    """A post or reply, as the self-boost rule sees it when it arrives."""

    kind: str
    author: str
    created_at: int


class PartitionState:
    """The window state of one Kafka partition (every topic whose key hashes to it)."""

    def __init__(
        self, partition: int, store: StateStore, windows: tuple[WindowSpec, ...], retention_ms: int, head: int,
        *, per_author_boosts: bool = False,
    ) -> None:
        """`per_author_boosts`: keep each booster's live boosts and self-boosts per topic, pane and
        window, classifying every boost as a self-boost or not, for score profiles that cap authors
        or leave self-boosts out (docs/scoring.md). Off, boosts cost nothing extra."""
        if windows[:3] != (W24, W6, WPREV):
            raise ValueError("the first windows must be 24h, 6h and the previous 24h")
        self.partition = partition
        self.store = store
        self.windows = windows
        self.retention_ms = retention_ms
        self.sliding = SlidingWindows(windows, head)
        self.loaded = 0
        self.fingerprint: tuple[int, int, int] | None = None
        self.tombstones: set[tuple[str, str]] = set()
        self.pending: dict[bytes, bytes] = {}
        # Time-index entries of the facts in `pending`, per pane: one store value per pane and
        # checkpoint instead of one per fact.
        self.pending_times: dict[int, list[bytes]] = {}
        self.offset: int | None = None
        # The offset after the last record folded into memory: past `offset` while a batch that
        # failed before its checkpoint is read again. What a snapshot of this state may reflect.
        self.folded_until = 0
        # When this partition's log was found lost and the state rebuilt from the app database
        # (epoch ms; 0: never): offsets before it belong to another log.
        self.lineage_since = 0
        # Stored values of fact keys read ahead by `prefetch` (None: not stored). Only consulted
        # after `pending`, and dropped whenever the store can change under it.
        self._prefetched: dict[bytes, bytes | None] = {}
        self._fact_prefix = fact_prefix(partition)
        self._time_prefix = time_prefix(partition)
        self.per_author_boosts = per_author_boosts
        # Boosts whose target was unknown when they arrived (their keys are stored too), and keys
        # to delete with the next checkpoint.
        self.waiting = PendingBoosts()
        self.pending_deletes: list[bytes] = []

    # -- lifecycle -------------------------------------------------------------------------

    def restore(self) -> int:
        """Rebuild tallies from the stored facts; returns how many live facts were loaded."""
        for _ in self.restore_steps():
            pass
        return self.loaded

    def restore_steps(self, step: int = 5000) -> Iterator[int]:
        """`restore` in steps: yields the facts loaded so far every `step` facts, so a caller can
        let other work run in between."""
        if next(self.store.scan(*legacy_time_range(self.partition)), None) is not None or self._unclassified():
            # Facts indexed in the old layout would never expire, and boosts folded while nothing
            # classified them carry no self-boost flag: start this partition afresh, so it is
            # replayed from Kafka (or the app database) like a partition without local state.
            self.clear()
            self.loaded = 0
            yield 0
            return
        if not self.per_author_boosts:
            # Classification is off: its keys would never be read or expire.
            self.store.delete_range(*waiting_boost_range(self.partition))
            self.store.write({}, [classified_key(self.partition)])
        raw_offset = self.store.get(offset_key(self.partition))
        self.offset = int.from_bytes(raw_offset, "big") if raw_offset else None
        self.folded_until = self.offset or 0
        raw_fingerprint = self.store.get(fingerprint_key(self.partition))
        self.fingerprint = decode_fingerprint(raw_fingerprint) if raw_fingerprint else None
        raw_lineage = self.store.get(lineage_key(self.partition))
        self.lineage_since = int.from_bytes(raw_lineage, "big") if raw_lineage else 0
        self.tombstones = {split_identity_key(k) for k, _ in self.store.scan(*tombstone_range(self.partition))}
        if self.per_author_boosts:
            for key, raw in self.store.scan(*waiting_boost_range(self.partition)):
                topic, target, boost_id = split_waiting_boost_key(key)
                booster, created_at = decode_waiting_boost(raw)
                self.waiting.wait(topic, target, WaitingBoost(boost_id, booster, created_at))
        cutoff = self.cutoff
        loaded = 0
        per_author = self.per_author_boosts
        for key, raw in self.store.scan(*fact_range(self.partition)):
            fact = FactRecord.decode(raw)
            if fact.retracted or fact.kind == "delete" or fact.created_at < cutoff:
                continue
            topic, _ = split_identity_key(key)
            self.sliding.count_fact(topic, fact.kind, fact.author, fact.created_at)
            if per_author and fact.kind == "boost":
                self.sliding.add_boost(topic, fact.author, fact.created_at, 1, int(fact.self_boost))
            loaded += 1
            if loaded % step == 0:
                yield loaded
        self.loaded = loaded
        self._expire_stored(cutoff)
        yield loaded

    def _unclassified(self) -> bool:
        """Whether boosts must be classified but this partition holds facts folded without it."""
        if not self.per_author_boosts or self.store.get(classified_key(self.partition)) is not None:
            return False
        return next(self.store.scan(*fact_range(self.partition)), None) is not None

    def clear(self) -> None:
        """Forget everything about this partition, on disk too."""
        self.store.delete_range(*partition_range(self.partition))
        self.sliding.clear()
        self.tombstones.clear()
        self.waiting = PendingBoosts()
        self.pending_deletes.clear()
        self.pending.clear()
        self.pending_times.clear()
        self._prefetched.clear()
        self.offset = None
        self.folded_until = 0
        self.fingerprint = None
        self.lineage_since = 0

    def start_lineage(self, since_ms: int) -> None:
        """Mark the state as rebuilt after its log was lost; stored with the next checkpoint."""
        self.lineage_since = since_ms
        self.pending[lineage_key(self.partition)] = since_ms.to_bytes(8, "big")

    def note_folding(self, next_offset: int) -> None:
        """Records up to `next_offset` are about to be folded into memory (see `position`)."""
        if next_offset > self.folded_until:
            self.folded_until = next_offset

    @property
    def position(self) -> int:
        """How far into the partition this state may reflect: the checkpointed offset, or the end of
        a batch folded since (an upper bound: a snapshot must never claim less than it holds)."""
        return max(self.offset or 0, self.folded_until)

    @property
    def cutoff(self) -> int:
        """Facts created before this are late: no window of the head or a later boundary needs them."""
        return self.head - self.retention_ms

    # -- folding events --------------------------------------------------------------------

    @property
    def fact_prefix(self) -> bytes:
        """What this partition's fact keys start with: a fact's key is this plus its identity key."""
        return self._fact_prefix

    def prefetch(self, events: Sequence[Fact], keys: Sequence[bytes]) -> None:
        """Read the stored records `apply` will look up for these events in one multi-get.

        `keys[i]` is the fact key of `events[i]` (`fact_prefix` + identity key). Optional: `apply`
        gives the same results without it, one store read per event. Keys already pending are read
        too: `apply` looks at what is pending first, and skipping them costs more than reading them.
        """
        prefix = self._fact_prefix
        per_author = self.per_author_boosts
        targets = [
            prefix + identity_key(e.topic_id, e.target_id) for e in events
            if e.target_id is not None and (e.kind == "delete" or (per_author and e.kind == "boost"))
        ]
        wanted = [*keys, *targets] if targets else keys
        if wanted:
            self._prefetched.update(zip(wanted, self.store.get_many(wanted), strict=True))

    def _stored(self, key: bytes) -> bytes | None:
        prefetched = self._prefetched
        if key in prefetched:
            return prefetched[key]
        return self.store.get(key)

    def apply(
        self, event: Fact, identity: bytes | None = None, key: bytes | None = None, *, retracted: bool = False
    ) -> Result:
        """Fold one valid event in; `identity` is its identity key and `key` its fact key
        (`fact_prefix` + identity) when the caller has them already.

        `retracted=True` loads a fact the app database knows is retracted: it is stored as such, and
        retracts the fact if the stream already counted it (its delete never reached Kafka).
        """
        created_at = event.created_at
        if created_at < self.sliding.head - self.retention_ms:
            return "late"
        topic = event.topic_id
        if identity is None:
            identity = identity_key(topic, event.event_id)
        if key is None:
            key = self._fact_prefix + identity
        pending = self.pending
        if key in pending:
            if retracted:
                self._retract(topic, event.event_id)
            return "duplicate"
        prefetched = self._prefetched
        if (prefetched[key] if key in prefetched else self.store.get(key)) is not None:
            if retracted:
                self._retract(topic, event.event_id)
            return "duplicate"
        pane = created_at - created_at % PANE_MS
        times = self.pending_times.get(pane)
        if times is None:
            times = self.pending_times[pane] = []
        kind = event.kind
        if kind == "delete":
            target = event.target_id or ""
            # Retract first: a stored target that cannot be read fails this event before the
            # delete is recorded, so a replay of it is not taken for a duplicate.
            self._retract(topic, target)
            pending[key] = encode_fact("delete", False, created_at, event.author, target)
            times.append(time_entry(identity, target.encode()))
            return "counted"
        per_author = self.per_author_boosts
        if per_author and (kind == "post" or kind == "reply") and self.waiting.has(topic, event.event_id):
            self._target_arrived(topic, event.event_id, ArrivedTarget(kind, event.author, created_at))
        if retracted or (self.tombstones and (topic, event.event_id) in self.tombstones):
            self.tombstones.discard((topic, event.event_id))
            pending[key] = encode_fact(kind, True, created_at, event.author, "")
            times.append(time_entry(identity))
            return "retracted"
        if per_author and kind == "boost":
            target = event.target_id or ""
            self_boost = self._classify_boost(topic, event.event_id, event.author, created_at, target)
            pending[key] = encode_fact(kind, False, created_at, event.author, target, self_boost)
            times.append(identity + b"\0")
            self.sliding.count_fact(topic, kind, event.author, created_at)
            self.sliding.add_boost(topic, event.author, created_at, 1, int(self_boost))
            return "counted"
        pending[key] = encode_fact(kind, False, created_at, event.author, event.target_id or "")
        times.append(identity + b"\0")  # time_entry(identity), inline: once per event
        self.sliding.count_fact(topic, kind, event.author, created_at)
        return "counted"

    def _classify_boost(self, topic: str, boost_id: str, booster: str, created_at: int, target_id: str) -> bool:
        """Whether a boost arriving now is a self-boost; a boost of an unknown target waits for it."""
        key = self._fact_prefix + identity_key(topic, target_id)
        raw = self.pending.get(key) or self._stored(key)
        if raw is not None:
            return is_self_boost(booster, created_at, FactRecord.decode(raw))
        self.waiting.wait(topic, target_id, WaitingBoost(boost_id, booster, created_at))
        self.pending[waiting_boost_key(self.partition, topic, target_id, boost_id)] = encode_waiting_boost(
            booster, created_at
        )
        return False

    def _target_arrived(self, topic: str, target_id: str, target: ArrivedTarget) -> None:
        """A post or reply others boosted before it arrived: its boosts stop waiting, and those by
        its author (within the horizon) become self-boosts, whether or not either is retracted."""
        for boost in self.waiting.take(topic, target_id):
            waiting_key = waiting_boost_key(self.partition, topic, target_id, boost.boost_id)
            if self.pending.pop(waiting_key, None) is None:
                self.pending_deletes.append(waiting_key)
            if not is_self_boost(boost.booster, boost.created_at, target):
                continue
            key = self._fact_prefix + identity_key(topic, boost.boost_id)
            raw = self.pending.get(key) or self._stored(key)
            if raw is None:
                continue
            fact = FactRecord.decode(raw)
            if fact.self_boost:
                continue
            self.pending[key] = fact.as_self_boost().encode()
            if not fact.retracted and fact.created_at >= self.cutoff:
                self.sliding.add_boost(topic, fact.author, fact.created_at, 0, 1)

    def _retract(self, topic: str, target: str) -> None:
        key = self._fact_prefix + identity_key(topic, target)
        raw = self.pending.get(key) or self._stored(key)
        if raw is None:
            self.tombstones.add((topic, target))
            self.pending[tombstone_key(self.partition, topic, target)] = b""
            return
        fact = FactRecord.decode(raw)
        if fact.retracted or fact.kind == "delete":
            return
        self.pending[key] = fact.retract().encode()
        if fact.created_at >= self.cutoff:
            if self.per_author_boosts and fact.kind == "boost":
                self.sliding.add_boost(topic, fact.author, fact.created_at, -1, -int(fact.self_boost))
            self.sliding.add_fact(topic, fact.kind, fact.author, fact.created_at, -1)

    # -- persistence -----------------------------------------------------------------------

    def take_pending(
        self, next_offset: int | None, last_record: tuple[int, int, int] | None = None
    ) -> dict[bytes, bytes]:
        """The writes since the last checkpoint, plus the offset they bring the partition to and
        the fingerprint of the last record consumed (see broker.records)."""
        writes = self.pending
        self.pending = {}
        prefix = self._time_prefix
        for pane, entries in self.pending_times.items():
            if entries:  # empty when the only event of its pane failed to fold
                writes[prefix + pane.to_bytes(8, "big") + entries[0]] = b"\0".join(entries)
        self.pending_times.clear()
        self._prefetched.clear()  # the store is about to change
        if next_offset is not None:
            self.offset = next_offset
            self.note_folding(next_offset)
            writes[offset_key(self.partition)] = next_offset.to_bytes(8, "big")
        if last_record is not None:
            self.fingerprint = last_record
            writes[fingerprint_key(self.partition)] = encode_fingerprint(last_record)
        if self.per_author_boosts:
            writes[classified_key(self.partition)] = b""
        return writes

    def take_deletes(self) -> list[bytes]:
        """Keys to delete with the next checkpoint (boosts that stopped waiting for their target)."""
        deletes, self.pending_deletes = self.pending_deletes, []
        return deletes

    # -- moving the boundary ---------------------------------------------------------------

    @property
    def head(self) -> int:
        return self.sliding.head

    def advance(self, boundary: int) -> None:
        """Move the running window tallies to `boundary` and expire panes no window needs."""
        if boundary <= self.head:
            return
        self.sliding.advance(boundary)
        self._prefetched.clear()  # expiry deletes stored facts
        cutoff = self.cutoff
        self.sliding.drop_panes_before(cutoff)
        self._expire_stored(cutoff)

    def _expire_stored(self, cutoff: int) -> None:
        """Delete the stored facts (and tombstones) of panes before `cutoff`."""
        start, end = time_range(self.partition, pane_start(cutoff))
        deletes = []
        for _, entries in self.store.scan(start, end):
            for topic, event_id, target in split_time_entries(entries):
                deletes.append(fact_key(self.partition, topic, event_id))
                if target:
                    deletes.append(tombstone_key(self.partition, topic, target))
                    self.tombstones.discard((topic, target))
        for topic, target, boost_id in self.waiting.expire_before(cutoff):
            deletes.append(waiting_boost_key(self.partition, topic, target, boost_id))
        if deletes:
            self.store.write({}, deletes)
        self.store.delete_range(start, end)

    # -- snapshots -------------------------------------------------------------------------

    def window_tallies(self, boundary: int) -> Mapping[str, Mapping[str, Tally]]:
        """Tallies of every window for `boundary`: the running ones at the head, else summed from panes."""
        if boundary != self.head and boundary - self.sliding.span_ms < self.cutoff:
            raise BoundaryOutOfRange(
                f"boundary {boundary} reaches back past the retained state (cutoff {self.cutoff})"
            )
        return self.sliding.tallies_at(boundary)

    def snapshot(self, boundary: int, scoring: Scoring, updated_at: int) -> Snapshot:
        """This partition's rows for `boundary`, built by the same function as the batch's, with the
        computed profiles of `scoring` (the active one first) or the default profile's weights."""
        tallies = self.window_tallies(boundary)
        counts = {
            name: {topic: tally.counts() for topic, tally in by_topic.items()}
            for name, by_topic in tallies.items()
        }
        per_author = [p for p in computed_profiles(scoring) if needs_author_counts(p)]
        inputs = None
        if per_author:
            topics = (t for t, tally in tallies[W24.name].items() if not tally.empty)
            inputs = author_inputs(tallies, per_author, topics)
        return build_snapshot(
            boundary, counts, scoring, windows=self.windows, updated_at=updated_at, author_inputs=inputs
        )

    @property
    def active_topics(self) -> int:
        return len(self.sliding.tallies[W24.name])


def boundary_for(now_ms: int, interval_ms: int) -> int:
    """The latest snapshot boundary at or before `now_ms`."""
    return align_down(now_ms, interval_ms)

