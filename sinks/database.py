"""Opening the app's SQLite database the way every writer and reader here must."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_MS = 5000


class DatabaseFileMissing(sqlite3.OperationalError):
    """The database path names no file (deleted under a running worker); it may come back."""


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


async def connect_writer(
    path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, create: bool = True
) -> aiosqlite.Connection:
    """A read-write connection in autocommit mode; callers open transactions explicitly.

    WAL lets kukuri's readers and our writer work side by side; `busy_timeout` turns a short lock
    held by the app into a wait instead of an immediate `database is locked`.
    """
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
    elif file_identity(path) is None:
        raise DatabaseFileMissing(f"unable to open database file: {path} does not exist")
    else:
        conn = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        await _use_wal(conn, busy_timeout_ms)
        await conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _use_wal(conn: aiosqlite.Connection, busy_timeout_ms: int) -> None:
    """Switch to WAL, waiting up to the busy timeout for other connections doing the same.

    SQLite does not wait (on its busy handler) when two connections switching a new file at once
    would deadlock: one gets `database is locked` at once. Several workers started together on a
    new database meet exactly that, so the switch is retried here.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.01)


# For a connection that aggregates days of facts in one statement: its sorts and materialised
# subqueries stay in memory instead of temporary files, and its page cache holds the indexes it
# walks (64 MiB instead of SQLite's 2 MiB).
_BULK_READ_PRAGMAS = ("PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -65536")


async def connect_reader(
    path: Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, bulk: bool = False
) -> aiosqlite.Connection:
    """A read-only connection (`mode=ro`): it can never write, and in WAL mode never blocks a writer.

    `bulk` tunes it for a few big aggregations (the recompute) rather than many small reads.
    """
    if not path.exists():
        raise sqlite3.OperationalError(f"unable to open database file: {path}")
    conn = await aiosqlite.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    for pragma in _BULK_READ_PRAGMAS if bulk else ():
        await conn.execute(pragma)
    return conn
