"""Serialized answers of the read API, cached per (database state, query) and checked on every request.

Building an answer costs several SQLite reads on a worker thread plus serialization; answering the
same question again from memory costs one `PRAGMA data_version` (microseconds, on the event loop).
That number changes whenever any other connection commits to the database, so a committed snapshot
(or a change to kukuri's tables) is seen by the very next request: nothing is served stale.

Time changes answers too, without a commit: a fresh snapshot turns stale, and the live fallback
moves to the next boundary. Each answer therefore carries the wall-clock time until which it holds
(`AnswerLifetime`), and answers that hold for no time at all (a snapshot served because the live
numbers could not be computed) are not cached.

Concurrent misses for the same question and database state share one build (single-flight), so a
burst of clients after a commit costs one set of reads, not one per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from api.models import DataSource

# (connection generation, PRAGMA data_version): the counter is per connection, so a reopened
# connection starts a new generation instead of repeating numbers an older state already had.
Version = tuple[int, int]


class DatabaseVersion:
    """The database state as `Version`, from one persistent read-only connection; None when unreadable.

    The connection opens lazily (the database may appear after the server starts) and never waits
    for a lock (`timeout=0`): the check runs on the event loop, and an answer it cannot vouch for
    is simply built instead of cached.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._generation = 0

    def current(self) -> Version | None:
        if self._conn is None:
            if not self._path.is_file():
                return None
            try:
                self._conn = sqlite3.connect(
                    f"{self._path.resolve().as_uri()}?mode=ro", uri=True, timeout=0, isolation_level=None
                )
            except sqlite3.Error:
                return None
            self._generation += 1
        try:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self.close()
            return None
        return (self._generation, int(row[0]))

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None


class Provenance(Protocol):
    """Which snapshot an answer comes from: what decides how long it holds."""

    @property
    def generated_at(self) -> int: ...

    @property
    def data_source(self) -> DataSource: ...

    @property
    def stale(self) -> bool: ...


class SnapshotAnswer(Provenance, Protocol):
    """A trending answer (`TrendingTopics`, `TrendingPosts`)."""

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AnswerLifetime:
    """Until when an answer about one snapshot stays the answer, commits aside."""

    interval_ms: int
    stale_after_ms: int
    metrics_enabled: bool = True

    def expires_at(self, answer: Provenance) -> int | None:
        """The first epoch ms at which the same question may be answered differently; None: already.

        A fresh snapshot's answer holds until the snapshot turns stale; a live fallback's until the
        next boundary; a stale snapshot served because the fallback failed holds for no time at all.
        With the snapshot job disabled every snapshot is served only because the live numbers failed,
        so none is kept: the next request tries the live numbers again.

        >>> life = AnswerLifetime(interval_ms=300_000, stale_after_ms=900_000)
        >>> from types import SimpleNamespace as A
        >>> life.expires_at(A(generated_at=600_000, data_source="metrics", stale=False))
        1500001
        >>> life.expires_at(A(generated_at=600_000, data_source="fallback", stale=True))
        900000
        >>> life.expires_at(A(generated_at=600_000, data_source="metrics", stale=True)) is None
        True
        >>> disabled = AnswerLifetime(interval_ms=300_000, stale_after_ms=900_000, metrics_enabled=False)
        >>> disabled.expires_at(A(generated_at=600_000, data_source="fallback", stale=False))
        900000
        >>> disabled.expires_at(A(generated_at=600_000, data_source="metrics", stale=False)) is None
        True
        """
        if answer.data_source == "fallback":
            return answer.generated_at + self.interval_ms
        if answer.stale or not self.metrics_enabled:
            return None
        return answer.generated_at + self.stale_after_ms + 1


@dataclass(frozen=True, slots=True)
class _Entry:
    body: bytes
    version: Version
    expires_at: int


Built = tuple[bytes, int | None]  # the serialized answer and until when it holds (None: do not keep)


class AnswerCache:
    """The serialized answers of the most recently asked questions, each for one database state.

    Bounded in bytes, not entries: `/posts` answers carry post contents, and any client can ask for
    a new `topic_ids` combination, so the least recently asked answers go once `max_bytes` is
    reached (an answer larger than a quarter of it is never kept).
    """

    def __init__(
        self,
        version: DatabaseVersion,
        lifetime: AnswerLifetime,
        clock: Callable[[], int],
        *,
        max_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._version = version
        self._lifetime = lifetime
        self._clock = clock
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._flights: dict[tuple[Hashable, Version], asyncio.Task[Built]] = {}

    async def answer(self, question: Hashable, produce: Callable[[], Awaitable[SnapshotAnswer]]) -> bytes:
        """The JSON body answering `question` (any hashable description of the request, e.g.
        `("topics", 10)`), from memory while the database and the clock allow, else from `produce()`."""

        async def build() -> Built:
            result = await produce()
            body = json.dumps(result.to_dict(), separators=(",", ":")).encode()
            return body, self._lifetime.expires_at(result)

        return await self.get(question, build)

    async def get(self, question: Hashable, build: Callable[[], Awaitable[Built]]) -> bytes:
        """The body answering `question`, from memory while the database and the clock allow, else `build()`."""
        version = self._version.current()
        if version is None:
            return (await build())[0]
        entry = self._entries.get(question)
        if entry is not None and entry.version == version and self._clock() < entry.expires_at:
            self._entries.move_to_end(question)
            return entry.body
        flight = (question, version)
        task = self._flights.get(flight)
        if task is None:
            task = asyncio.create_task(self._build(question, version, build), name="trending-answer")
            self._flights[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        # Shielded: a client that hangs up must not cancel the build the others are waiting for.
        body, _ = await asyncio.shield(task)
        return body

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
        self._version.close()

    async def _build(self, question: Hashable, version: Version, build: Callable[[], Awaitable[Built]]) -> Built:
        body, expires_at = await build()
        if expires_at is None or self._clock() >= expires_at or len(body) > self._max_bytes // 4:
            return body, expires_at
        current = self._entries.get(question)
        # A slower build for an older state must not replace a newer one's answer.
        if current is None or current.version <= version:
            if current is not None:
                self._bytes -= len(current.body)
            self._entries[question] = _Entry(body, version, expires_at)
            self._entries.move_to_end(question)
            self._bytes += len(body)
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)
        return body, expires_at

    def _landed(self, flight: tuple[Hashable, Version], task: asyncio.Task[Built]) -> None:
        if self._flights.get(flight) is task:
            del self._flights[flight]
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not warn when every waiter hung up
