"""The transaction and scalar-query helpers every statement on our tables goes through."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite


@asynccontextmanager
async def transaction(conn: aiosqlite.Connection, *, write: bool = True) -> AsyncIterator[aiosqlite.Connection]:
    """One transaction on an autocommit connection (`sinks.database`): committed when the block ends,
    rolled back when it raises (a cancellation included), so no partial write is ever visible.

    A write transaction starts with BEGIN IMMEDIATE: the write lock is taken up front, waiting up
    to the connection's busy timeout while the app holds it, instead of failing half-way on an
    upgrade from a read lock. A read transaction (`write=False`) is a plain BEGIN, so the reads
    of the block see one committed state.
    """
    await conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def scalar(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> Any:
    """The first column of the first row (None when there is no row)."""
    async with conn.execute(sql, tuple(params)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def rowcount(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> int:
    """Run one data-changing statement; how many rows it changed."""
    cursor = await conn.execute(sql, tuple(params))
    changed = cursor.rowcount
    await cursor.close()
    return changed
