"""A few read-only SQLite connections, each lent out for one read transaction at a time.

Every answer is read inside one transaction so it can never mix two snapshots; with WAL a reader
never blocks the writer. Connections open lazily (the database may appear after the server starts)
and one that raised an SQLite error is closed instead of being lent out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from sinks.database import connect_reader


class ReadPool:
    def __init__(self, path: Path, size: int = 4) -> None:
        self.path = path
        self._idle: list[aiosqlite.Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._closed = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A connection inside `BEGIN` ... `COMMIT`: every read sees the same committed state."""
        async with self._slots:
            if self._closed:
                raise sqlite3.OperationalError("read pool is closed")
            conn = self._idle.pop() if self._idle else await connect_reader(self.path)
            reusable = False
            try:
                await conn.execute("BEGIN")
                yield conn
                await conn.execute("COMMIT")  # read-only: ends the transaction, writes nothing
                reusable = True
            except BaseException as exc:
                # A failure of the caller's own (an ApiError, a cancellation) leaves the connection
                # sound; an SQLite error may not.
                if not isinstance(exc, sqlite3.Error):
                    reusable = await _rollback(conn)
                raise
            finally:
                if reusable and not self._closed:
                    self._idle.append(conn)
                else:
                    await _discard(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


async def _rollback(conn: aiosqlite.Connection) -> bool:
    try:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
    except (sqlite3.Error, ValueError):
        return False
    return True


async def _discard(conn: aiosqlite.Connection) -> None:
    with contextlib.suppress(sqlite3.Error, ValueError):
        await conn.close()
