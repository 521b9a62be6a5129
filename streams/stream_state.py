"""All partitions of one worker's window state, over one store, checkpointed together.

A checkpoint writes every partition's new facts and the offsets that produced them in one atomic
batch, so after a crash the state and the position in Kafka always agree: events after the
checkpoint are replayed, and the fact records make the replay count nothing twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Final

from streams.aggregation import PartitionState
from streams.metrics import PartPosition, Snapshot
from streams.scoring import Scoring
from streams.state_store import StateStore
from streams.windows import WindowSpec

_INCARNATION_KEY: Final = b"M|broker_incarnation"


class StreamState:
    def __init__(
        self, store: StateStore, windows: tuple[WindowSpec, ...], retention_ms: int, head: int,
        *, per_author_boosts: bool = False,
    ) -> None:
        self.store = store
        self.per_author_boosts = per_author_boosts
        self.windows = windows
        self.retention_ms = retention_ms
        self.head = head
        self.partitions: dict[int, PartitionState] = {}
        self.history_lost = False

    def check_broker_incarnation(self, incarnation: str | None) -> bool:
        """Forget all state if it was built from another broker (an embedded broker restarts empty).

        Returns True when state was dropped; `history_lost` then tells partitions to rebuild from
        the app database, since the new broker cannot replay what the old one held.
        """
        if incarnation is None:
            return False
        stored = self.store.get(_INCARNATION_KEY)
        if stored == incarnation.encode():
            return False
        dropped = stored is not None
        if dropped:
            self.store.delete_range(b"P", b"Q")
            self.history_lost = True
        self.store.write({_INCARNATION_KEY: incarnation.encode()})
        return dropped

    async def load(self, partition: int) -> PartitionState:
        """A partition's state rebuilt from the store, not yet attached (see `attach`).

        Yields to the event loop every few thousand facts: a large restore must not starve the
        consumer's heartbeats, or the group would evict this worker and rebalance again.
        """
        state = PartitionState(
            partition, self.store, self.windows, self.retention_ms, self.head, per_author_boosts=self.per_author_boosts
        )
        for _ in state.restore_steps():
            await asyncio.sleep(0)
        return state

    def attach(self, state: PartitionState) -> None:
        """Start tracking a loaded partition and write what loading it produced."""
        state.advance(self.head)
        self.partitions[state.partition] = state
        self.store.write(state.take_pending(None))

    def revoke(self, partition: int) -> None:
        """Stop tracking a partition in memory; its checkpointed facts stay on disk."""
        self.partitions.pop(partition, None)

    def checkpoint(
        self, next_offsets: Mapping[int, int], last_records: Mapping[int, tuple[int, int, int]] | None = None
    ) -> None:
        """Write pending facts of every partition plus the given next offsets (and fingerprints of
        the records at them), atomically."""
        writes: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for partition, state in self.partitions.items():
            writes.update(state.take_pending(next_offsets.get(partition), (last_records or {}).get(partition)))
            deletes.extend(state.take_deletes())
        if writes or deletes:
            self.store.write(writes, deletes)

    def advance(self, boundary: int) -> None:
        if boundary <= self.head:
            return
        self.head = boundary
        for state in self.partitions.values():
            state.advance(boundary)

    def snapshot(
        self, boundary: int, scoring: Scoring, updated_at: int, partitions: Iterable[int] | None = None
    ) -> dict[int, Snapshot]:
        """Each partition's part of `boundary`, scored with `scoring` (the computed profiles, the
        active one first, or the default profile's weights)."""
        chosen = self.partitions if partitions is None else {p: self.partitions[p] for p in partitions}
        return {p: s.snapshot(boundary, scoring, updated_at) for p, s in chosen.items()}

    def positions(self, partitions: Iterable[int]) -> dict[int, PartPosition]:
        """How far into its stream each partition's state reaches, for fencing its snapshot part."""
        return {p: PartPosition(self.partitions[p].position, self.partitions[p].lineage_since) for p in partitions}

    @property
    def active_topics(self) -> int:
        return sum(s.active_topics for s in self.partitions.values())

    def close(self) -> None:
        self.partitions.clear()
        self.store.close()
