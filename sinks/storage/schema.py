"""`schema_migrations`: which numbered migrations have been applied to this database."""

from __future__ import annotations

import aiosqlite

from sinks.storage.sql import scalar


async def ensure_migrations_table(conn: aiosqlite.Connection) -> None:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
    )


async def applied_versions(conn: aiosqlite.Connection) -> set[int]:
    async with conn.execute("SELECT version FROM schema_migrations") as cursor:
        return {int(row[0]) for row in await cursor.fetchall()}


async def is_applied(conn: aiosqlite.Connection, version: int) -> bool:
    return await scalar(conn, "SELECT 1 FROM schema_migrations WHERE version = ?", (version,)) is not None


async def record_migration(conn: aiosqlite.Connection, version: int, name: str, applied_at: int) -> None:
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", (version, name, applied_at)
    )
