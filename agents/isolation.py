"""Which faults a record causes, and how to find the record when a whole batch fails.

The consume loop already dead-letters every record whose decoding or folding raises. What is left
are faults outside that per-record guard (writing a dead letter, reading a control record, ...).
If such a fault is an infrastructure fault (the broker, the state store, the database), the batch
is rewound and read again: the fault is expected to pass and dropping records would lose facts.
Anything else is taken to be caused by some record in the batch, and the batch is split in halves
until the one record that still fails on its own is found; that record is dead-lettered and the
partition moves on. Halves are processed in order, so offsets only ever move forward.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiokafka.errors import KafkaError

from streams.state_store import StoreError

R = TypeVar("R")


def is_infrastructure_fault(exc: BaseException) -> bool:
    """True for faults of the broker, the state store or a database, which retrying can cure."""
    return isinstance(exc, StoreError | KafkaError | OSError | sqlite3.Error | asyncio.TimeoutError)


async def process_isolating(
    records: Sequence[R],
    process: Callable[[Sequence[R]], Awaitable[None]],
    give_up: Callable[[R, Exception], Awaitable[None]],
) -> int:
    """Run `process` on `records`; on a fault that is not an infrastructure fault, run it on each
    half in order instead, down to single records, which are handed to `give_up`.

    Infrastructure faults propagate (from `give_up` too). `process` must be idempotent for a
    prefix it has already handled, since the half that failed is processed again in parts.
    Returns how many records were given up.
    """
    try:
        await process(records)
        return 0
    except Exception as exc:
        if is_infrastructure_fault(exc):
            raise
        if len(records) <= 1:
            if records:
                await give_up(records[0], exc)
            return len(records)
    middle = len(records) // 2
    return (await process_isolating(records[:middle], process, give_up)
            + await process_isolating(records[middle:], process, give_up))
