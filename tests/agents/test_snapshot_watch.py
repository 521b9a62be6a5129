"""The judge the fault tests rely on must itself reject what it is meant to catch: rows without a
recorded run, a run with missing rows, a torn row, and a partition part that goes back in time."""

from __future__ import annotations

from streams.events import Event
from tests.fixtures.app_db import BOUNDARY, HOUR
from tests.fixtures.snapshot_watch import Observation, StreamPrefixes
from tests.oracle import expected_rows

E = BOUNDARY
STREAM = [
    Event("p1", "post", "rust", "alice", E - HOUR),
    Event("p2", "post", "rust", "bob", E - 7 * HOUR),  # outside W6: rust with only bob differs from only alice
    Event("p3", "post", "cats", "carol", E - 3 * HOUR),
    Event("d1", "delete", "rust", "alice", E - HOUR, "p1"),
]


def seen(rows: dict, run: int | None, at: float = 0.0) -> Observation:
    return Observation(at, E, rows, run)


def test_every_prefix_of_the_stream_is_accepted_in_order() -> None:
    judge = StreamPrefixes(STREAM)
    for k in range(len(STREAM) + 1):
        rows = expected_rows(STREAM[:k], E)
        assert judge.judge(seen(rows, len(rows), at=k)) == []


def test_partial_torn_and_regressed_snapshots_are_rejected() -> None:
    full = expected_rows(STREAM, E)
    assert StreamPrefixes(STREAM).judge(seen(full, None)) != []  # rows, no run
    assert StreamPrefixes(STREAM).judge(seen({"rust": full["rust"]}, 2)) != []  # a run missing a row
    torn = {**full, "rust": {**full["rust"], "posts_24h": 7}}
    assert StreamPrefixes(STREAM).judge(seen(torn, 2)) != []
    assert StreamPrefixes(STREAM).judge(seen({**full, "go": full["rust"]}, 3)) != []  # never sent

    judge = StreamPrefixes(STREAM)
    newer = expected_rows(STREAM, E)  # p1 deleted: rust has only bob
    older = expected_rows(STREAM[:3], E)  # p1 still counted
    assert judge.judge(seen(newer, len(newer), at=1)) == []
    assert judge.judge(seen(older, len(older), at=2)) != []
