"""How far ingest has got: caught up after an assignment, and materialize barriers seen.

Snapshots wait for `CatchUp.caught_up`: after start-up and after every rebalance it is cleared
until each owned partition has replayed what the broker held when the partition was assigned (a
snapshot from half-rebuilt state would look complete and be wrong). `Barriers` collects the
materialize barrier records of one request until every owned partition has delivered its copy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import TopicPartition

from agents.control import MaterializeRequest


class PositionSource(Protocol):
    def assignment(self) -> set[TopicPartition]: ...

    async def position(self, tp: TopicPartition) -> int: ...


class CatchUp:
    """Per partition, the offset it must reach (the high watermark at assignment)."""

    def __init__(self) -> None:
        self.caught_up = asyncio.Event()
        self.targets: dict[int, int] = {}

    def expect(self, partition: int, target: int, position: int) -> None:
        self.targets[partition] = target
        if position < target:
            self.caught_up.clear()

    def forget(self, partition: int) -> None:
        self.targets.pop(partition, None)

    def reset(self) -> None:
        """New partitions are on their way: not caught up until they are restored and replayed."""
        self.caught_up.clear()

    async def check(self, consumer: PositionSource, owned: Collection[int]) -> bool:
        """Set `caught_up` when every assigned partition is held and at its target; True if it just was."""
        if self.caught_up.is_set():
            return False
        assignment = consumer.assignment()
        if not assignment:
            return False
        for tp in assignment:
            target = self.targets.get(tp.partition)
            if target is None or tp.partition not in owned or await consumer.position(tp) < target:
                return False
        self.caught_up.set()
        return True


@dataclass
class _Pending:
    request: MaterializeRequest
    seen: set[int] = field(default_factory=set)


class Barriers:
    """Materialize requests waiting for their barrier on every owned partition."""

    def __init__(self, on_complete: Callable[[MaterializeRequest], Awaitable[None]] | None = None,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.on_complete = on_complete
        self.clock_ms = clock_ms
        self._pending: dict[str, _Pending] = {}

    async def seen(self, barriers: Iterable[tuple[int, MaterializeRequest]], owned: Collection[int]) -> None:
        for partition, request in barriers:
            if request.expired(self.clock_ms()):
                continue  # replayed from the log; nobody is waiting for it any more
            pending = self._pending.setdefault(request.request_id, _Pending(request))
            pending.seen.add(partition)
            if pending.seen >= set(owned) and self.on_complete is not None:
                del self._pending[request.request_id]
                await self.on_complete(request)

    def clear(self) -> None:
        """After a rebalance the partition sets no longer match; requesters time out and retry."""
        self._pending.clear()
