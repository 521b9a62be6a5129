"""The two store implementations agree, and RocksDB failures surface as StoreError."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.state_store import MULTI_GET_CHUNK, MemoryStore, RocksStore, StoreError

keys = st.binary(min_size=1, max_size=6)


@settings(max_examples=50, deadline=None)
@given(puts=st.dictionaries(keys, st.binary(max_size=4), max_size=20), deletes=st.lists(keys, max_size=5),
       asked=st.lists(keys, max_size=20))
def test_rocks_and_memory_stores_answer_alike(tmp_path_factory: pytest.TempPathFactory, puts: dict[bytes, bytes],
                                               deletes: list[bytes], asked: list[bytes]) -> None:
    rocks = RocksStore(tmp_path_factory.mktemp("rocks"))
    memory = MemoryStore()
    try:
        for store in (rocks, memory):
            store.write(puts)
            store.write({}, deletes)
        asked = asked + list(puts)
        assert rocks.get_many(asked) == memory.get_many(asked) == [memory.get(k) for k in asked]
        assert list(rocks.scan(b"", b"\xff" * 8)) == list(memory.scan(b"", b"\xff" * 8))
    finally:
        rocks.close()


def test_a_multi_get_over_several_chunks_answers_every_key_in_order(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    try:
        store.write({b"%05d" % i: b"v%d" % i for i in range(0, 4 * MULTI_GET_CHUNK, 2)})
        asked = [b"%05d" % i for i in reversed(range(3 * MULTI_GET_CHUNK + 5))] + [b"00000", b"00000"]
        assert store.get_many(asked) == [store.get(k) for k in asked]
        assert store.get_many(asked)[-1] == b"v0"
        assert store.get_many([]) == []
    finally:
        store.close()


def test_a_closed_rocks_store_raises_store_error(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    store.write({b"k": b"v"})
    store.close()
    with pytest.raises(StoreError):
        store.get(b"k")
    with pytest.raises(StoreError):
        store.get_many([b"k"])
    with pytest.raises(StoreError):
        store.write({b"k": b"w"})
