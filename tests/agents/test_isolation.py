"""Bisection of a failing batch down to the record at fault, with a fake fold (no broker)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import pytest
from aiokafka.errors import KafkaConnectionError
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.isolation import is_infrastructure_fault, process_isolating
from streams.state_store import StoreError


class FakeFold:
    """Checkpoints records in order, like the ingest loop; raises when a batch holds a poisoned one."""

    def __init__(self, poisoned: set[int], error: Exception | None = None) -> None:
        self.poisoned = poisoned
        self.error = error or RecursionError("maximum recursion depth exceeded")
        self.checkpointed: list[int] = []
        self.dead_lettered: list[int] = []
        self.attempts = 0

    async def process(self, records: Sequence[int]) -> None:
        self.attempts += 1
        if self.poisoned & set(records):
            raise self.error
        self.checkpointed.extend(r for r in records if not self.checkpointed or r > self.checkpointed[-1])

    async def give_up(self, record: int, exc: Exception) -> None:
        assert exc is self.error
        self.dead_lettered.append(record)
        self.checkpointed.append(record)


async def test_one_poisoned_record_is_found_and_everything_else_is_folded_in_order() -> None:
    fold = FakeFold({37})
    given_up = await process_isolating(list(range(100)), fold.process, fold.give_up)
    assert given_up == 1
    assert fold.dead_lettered == [37]
    assert fold.checkpointed == list(range(100))  # offsets only ever move forward
    assert fold.attempts <= 2 * 7 + 1  # a path of halvings, not one attempt per record


@settings(max_examples=100, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), data=st.data())
async def test_any_set_of_poisoned_records_is_dead_lettered_exactly(size: int, data: st.DataObject) -> None:
    poisoned = data.draw(st.sets(st.integers(min_value=0, max_value=size - 1), max_size=5))
    fold = FakeFold(poisoned)
    assert await process_isolating(list(range(size)), fold.process, fold.give_up) == len(poisoned)
    assert fold.dead_lettered == sorted(poisoned)
    assert fold.checkpointed == list(range(size))


async def test_a_clean_batch_is_processed_once() -> None:
    fold = FakeFold(set())
    assert await process_isolating(list(range(10)), fold.process, fold.give_up) == 0
    assert fold.attempts == 1


@pytest.mark.parametrize("fault", [StoreError("disk full"), KafkaConnectionError("broker gone"),
                                   sqlite3.OperationalError("database is locked"), TimeoutError()])
async def test_infrastructure_faults_fail_the_batch_instead(fault: Exception) -> None:
    fold = FakeFold({3}, error=fault)
    with pytest.raises(type(fault)):
        await process_isolating(list(range(10)), fold.process, fold.give_up)
    assert fold.dead_lettered == [] and fold.attempts == 1
    assert is_infrastructure_fault(fault)


@pytest.mark.parametrize("fault", [RecursionError(), MemoryError(), OverflowError(), ValueError(), KeyError("x"),
                                   AttributeError(), UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate")])
def test_record_faults_are_not_infrastructure(fault: Exception) -> None:
    assert not is_infrastructure_fault(fault)


async def test_a_failing_dead_letter_write_fails_the_batch() -> None:
    fold = FakeFold({2})

    async def unreachable_dlq(record: int, exc: Exception) -> None:
        raise KafkaConnectionError("dlq unreachable")

    with pytest.raises(KafkaConnectionError):
        await process_isolating(list(range(4)), fold.process, unreachable_dlq)
    assert 2 not in fold.checkpointed and fold.checkpointed == [0, 1]
