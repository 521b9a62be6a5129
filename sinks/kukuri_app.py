"""Stand-in for the kukuri app's own writes: its schema, and facts written the way the app stores them.

Used by the demo, `produce --app-db` and the tests; production kukuri-trending only reads these
tables. The mapping is the one of `appdb.facts` in reverse: a post or reply is a kind-1 `events` row (a reply
carries an `["e", parent]` tag), a boost a kind-6 row tagged with its target, a bookmark a
`bookmarks` row, and a delete sets `deleted = 1` on its target (or removes the bookmark).
Boosts and bookmarks get no `event_topics` rows: their topics are their target post's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources

import aiosqlite

from streams.events import Event

KUKURI_SCHEMA = resources.files("sinks").joinpath("kukuri_schema.sql").read_text(encoding="utf-8")


async def ensure_kukuri_tables(conn: aiosqlite.Connection) -> None:
    await conn.executescript(KUKURI_SCHEMA)


async def upsert_topics(conn: aiosqlite.Connection, topics: Iterable[tuple[str, str, str]], now: int) -> None:
    """Insert `(topic_id, name, description)` rows that do not exist yet."""
    await conn.executemany(
        "INSERT OR IGNORE INTO topics (topic_id, name, description, created_at, updated_at, member_count, post_count)"
        " VALUES (?, ?, ?, ?, ?, 0, 0)",
        [(t, n, d, now, now) for t, n, d in topics],
    )


async def write_facts(conn: aiosqlite.Connection, events: Iterable[Event]) -> None:
    """Apply events to kukuri's tables as the app would (idempotent, one transaction per call)."""
    posts, topics, bookmarks, retract_events, retract_bookmarks = [], [], [], [], []
    for event in events:
        if event.kind in ("post", "reply"):
            tags = [["e", event.target_id]] if event.kind == "reply" else []
            posts.append((event.event_id, event.author, "", 1, json.dumps(tags), event.created_at))
            topics.append((event.event_id, event.topic_id))
        elif event.kind == "boost":
            posts.append((event.event_id, event.author, "", 6, json.dumps([["e", event.target_id]]), event.created_at))
        elif event.kind == "bookmark":
            bookmarks.append((event.event_id, event.author, event.target_id, event.created_at))
        else:
            retract_events.append((event.target_id,))
            retract_bookmarks.append((event.target_id,))
    await conn.execute("BEGIN IMMEDIATE")
    try:
        await conn.executemany(
            "INSERT OR IGNORE INTO events (event_id, public_key, content, kind, tags, created_at, deleted)"
            " VALUES (?, ?, ?, ?, ?, ?, 0)",
            posts,
        )
        await conn.executemany("INSERT OR IGNORE INTO event_topics (event_id, topic_id) VALUES (?, ?)", topics)
        await conn.executemany(
            "INSERT OR IGNORE INTO bookmarks (id, user_pubkey, post_id, created_at) VALUES (?, ?, ?, ?)", bookmarks
        )
        await conn.executemany("UPDATE events SET deleted = 1 WHERE event_id = ?", retract_events)
        await conn.executemany("DELETE FROM bookmarks WHERE id = ?", retract_bookmarks)
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")
