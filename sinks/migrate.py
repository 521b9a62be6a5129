"""Apply the numbered migrations in `sinks/migrations/` once each, recording them in `schema_migrations`."""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

from sinks.database import connect_writer
from sinks.storage.schema import applied_versions, ensure_migrations_table, is_applied, record_migration
from sinks.storage.sql import transaction

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("sinks.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in sinks/migrations: {versions}")
    return found


async def apply_migrations(conn: aiosqlite.Connection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return the ones applied."""
    await ensure_migrations_table(conn)
    already = await applied_versions(conn)
    applied = []
    for migration in available_migrations():
        if migration.version in already:
            continue  # no write lock on kukuri's database when there is nothing to do
        # Checked again inside the write transaction: several workers may start (and migrate) at once.
        async with transaction(conn):
            done = await is_applied(conn, migration.version)
            if not done:
                for statement in _statements(migration.sql):
                    await conn.execute(statement)
                await record_migration(conn, migration.version, migration.name, int(time.time() * 1000))
        if done:
            continue
        applied.append(migration)
    return applied


async def migrate(path: Path) -> list[Migration]:
    conn = await connect_writer(path)
    try:
        return await apply_migrations(conn)
    finally:
        await conn.close()


def _statements(sql: str) -> list[str]:
    """Split a migration into complete statements (ours never put '--' or ';' inside literals)."""
    statements, current = [], ""
    for line in sql.splitlines():
        current += line.split("--", 1)[0] + "\n"
        if current.strip() and sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete statement at the end of a migration: {current.strip()[:80]}")
    return statements
