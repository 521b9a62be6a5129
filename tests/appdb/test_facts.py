"""The three readers of the app database agree on what a fact is, on rows written to be awkward.

The recompute (`appdb.recompute`), the loader that rebuilds stream state (`appdb.loader`) and the
posts endpoint (`api.posts`) all build their SQL from `appdb.facts`; this checks them on the rows
where hand-written copies used to differ.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from api.posts import posts_for
from appdb.loader import app_facts, load_partition_from_app_db
from appdb.recompute import recompute_snapshot
from config.settings import ScoreWeights
from sinks.database import connect_reader
from streams.aggregation import PartitionState
from streams.state_store import MemoryStore
from streams.windows import retention_ms, window_set
from tests.fixtures.app_db import BOUNDARY, HOUR, build_app_db, settings_for

pytestmark = pytest.mark.integration
E = BOUNDARY

# (event_id, author, kind, tags, created_at, deleted, topics)
EVENTS = [
    ("p1", "alice", 1, "[]", E - 5 * HOUR, 0, ("t1", "t2")),  # a post in two topics
    ("p2", "bob", 1, '[["t","rust"]]', E - 4 * HOUR, 0, ("t1",)),
    # A reply with several e tags behind another tag: its parent is the FIRST e tag, p2.
    ("r1", "carol", 1, '[["p","alice"],["e","p2"],["e","p1","","root"]]', E - 3 * HOUR, 0, ("t1",)),
    ("r2", "carol", 1, '[["e"]]', E - 3 * HOUR, 0, ("t2",)),  # a reply naming no parent
    ("p3", "dave", 1, "[]", E - 3 * HOUR, 2, ("t1",)),  # deleted = 2: retracted
    ("p4", "dave", 1, "[]", E - 3 * HOUR, None, ("t1",)),  # deleted NULL: retracted
    ("p5", "erin", 1, "not json", E - 2 * HOUR, 0, ("t2",)),  # tags that are not JSON: a post
    ("b1", "frank", 6, '[["e","p3"]]', E - 2 * HOUR, 0, ()),  # boost of a deleted post: counts in t1
    ("b2", "grace", 6, '[["e","p1"]]', E - 2 * HOUR, 0, ()),  # boost of a post in two topics
    ("b3", "heidi", 6, '[["e","p2"]]', E - 2 * HOUR, 1, ()),  # a deleted boost
    ("b4", "ivan", 6, '{"e":"p2"}', E - 2 * HOUR, 0, ()),  # no e tag: a boost of nothing
    ("r3", "judy", 1, '[["e","p1"]]', E - HOUR, 0, ("t2",)),  # a reply to p1, in t2 only
]
BOOKMARKS = [
    ("k1", "mallory", "p1", E - HOUR),  # a bookmark of a post in two topics
    ("k2", None, "p1", E - HOUR),  # no user: counts nowhere
    ("k3", "oscar", "p3", E - HOUR),  # a bookmark of a deleted post still counts
]


async def awkward_db(path: Path) -> Path:
    await build_app_db(path, topics=["t1", "t2"])
    with sqlite3.connect(path) as conn:
        for event_id, author, kind, tags, at, deleted, topics in EVENTS:
            conn.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (event_id, author, f"text of {event_id}", kind, tags, at, deleted))
            conn.executemany("INSERT INTO event_topics VALUES (?, ?)", [(event_id, t) for t in topics])
        conn.executemany("INSERT INTO bookmarks VALUES (?, ?, ?, ?)", BOOKMARKS)
    return path


async def test_recompute_loader_and_posts_agree_on_awkward_rows(tmp_path: Path) -> None:
    db = await awkward_db(tmp_path / "kukuri.db")
    settings = settings_for(db)

    batch = await recompute_snapshot(db, E, ScoreWeights(), updated_at=0)
    rows = {r.topic_id: r for r in batch.rows}
    assert (rows["t1"].posts_24h, rows["t1"].replies, rows["t1"].boosts, rows["t1"].bookmarks) == (3, 1, 2, 2)
    assert (rows["t2"].posts_24h, rows["t2"].replies, rows["t2"].boosts, rows["t2"].bookmarks) == (4, 2, 1, 1)
    assert rows["t1"].unique_authors == 3 and rows["t1"].participants_24h == 7  # + frank grace mallory oscar
    assert rows["t2"].participants_24h == 6

    # The loader yields the same facts, retracted ones flagged, and rebuilds the same rows.
    loaded = [(e.event_id, e.topic_id, e.kind, e.target_id, retracted) async for e, retracted in app_facts(settings, 0)]
    assert ("r1", "t1", "reply", "p2", False) in loaded
    assert ("r2", "t2", "reply", "", False) in loaded
    assert ("p5", "t2", "post", None, False) in loaded
    assert {(e, t) for e, t, _, _, gone in loaded if gone} == {("p3", "t1"), ("p4", "t1"), ("b3", "t1")}
    assert not [f for f in loaded if f[0] in ("b4", "k2")]
    windows = window_set()
    states = [PartitionState(p, MemoryStore(), windows, retention_ms(windows), E) for p in range(4)]
    for state in states:
        await load_partition_from_app_db(settings, state)
    streamed = {r.topic_id: asdict(replace(r, updated_at=0)) for s in states for r in s.snapshot(E, ScoreWeights(), 0).rows}
    assert streamed == {r.topic_id: asdict(r) for r in batch.rows}

    # The posts endpoint lists exactly the live posts and replies the recompute counted, with the
    # replies and boosts the loader says each one received.
    conn = await connect_reader(db)
    try:
        posts = await posts_for(conn, E, ["t1", "t2"], 20)
    finally:
        await conn.close()
    for topic in ("t1", "t2"):
        assert len(posts[topic]) == rows[topic].posts_24h
        live = {e for e, t, kind, _, gone in loaded if t == topic and kind in ("post", "reply") and not gone}
        assert {p.event_id for p in posts[topic]} == live
        for post in posts[topic]:
            received = {(e, kind) for e, _, kind, target, gone in loaded
                        if target == post.event_id and kind in ("reply", "boost") and not gone}
            assert (post.replies, post.boosts) == (
                sum(kind == "reply" for _, kind in received), sum(kind == "boost" for _, kind in received))
    by_id = {p.event_id: p for p in posts["t1"]}
    assert (by_id["p1"].replies, by_id["p1"].boosts, by_id["p1"].bookmarks) == (1, 1, 1)
    assert (by_id["p2"].replies, by_id["p2"].boosts, by_id["p2"].bookmarks) == (1, 0, 0)
    assert by_id["r1"].reply_to == "p2"
