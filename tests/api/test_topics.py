"""GET /api/trending/topics against a real server and a real SQLite file."""

from __future__ import annotations

import asyncio
import re
import sqlite3

import pytest

from tests.api.conftest import Api
from tests.api.support import boundary, commit, create_db, row

pytestmark = pytest.mark.integration


async def test_orders_by_score_24h_then_score_6h_then_posts_then_topic_id(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b", "c", "d", "e", "f"])
    await commit(api.db, e, [
        row("f", e, 1.0),
        row("e", e, 5.0, score_6h=1.0, posts_24h=3),
        row("d", e, 5.0, score_6h=1.0, posts_24h=3),  # full tie with e: topic_id decides
        row("c", e, 5.0, score_6h=1.0, posts_24h=4),  # beats d and e on posts_24h
        row("b", e, 5.0, score_6h=2.0, posts_24h=1),  # beats c, d, e on score_6h
        row("a", e, 9.0),
    ])

    body = await api.get("/api/trending/topics")

    assert [t["topic_id"] for t in body["topics"]] == ["a", "b", "c", "d", "e", "f"]
    assert [t["rank"] for t in body["topics"]] == [1, 2, 3, 4, 5, 6]
    assert (body["generated_at"], body["data_source"], body["stale"]) == (e, "metrics", False)


async def test_a_topic_carries_its_row_and_its_topics_entry(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["rust"])
    await commit(api.db, e, [row(
        "rust", e, 7.7, score_6h=2.5, posts_24h=10, posts_6h=3, unique_authors=4, boosts=5,
        replies=2, bookmarks=1, participant_delta=-3,
    )])

    (topic,) = (await api.get("/api/trending/topics"))["topics"]

    assert topic == {
        "topic_id": "rust", "name": "Topic rust", "description": "About rust", "member_count": 0, "post_count": 0,
        "trending_score": 7.7, "score_6h": 2.5, "rank": 1, "score_change": None, "posts_24h": 10, "posts_6h": 3,
        "unique_authors": 4, "boosts": 5, "replies": 2, "bookmarks": 1, "participant_delta": -3,
        "score_change_reason": "no_previous_snapshot", "previous_rank": None,
    }


async def test_topics_missing_from_the_topics_table_are_skipped_and_the_list_refilled(api: Api) -> None:
    e = boundary()
    known = [f"k{i}" for i in range(5)]
    await create_db(api.db, known)
    # The two best topics and every other one are unknown to the app.
    rows = [row("ghost-1", e, 100.0), row("ghost-2", e, 99.0)]
    rows += [row(t, e, 50.0 - i) for i, t in enumerate(known)]
    rows += [row(f"ghost-{i}", e, 49.5 - i) for i in range(3, 8)]
    await commit(api.db, e, rows)

    body = await api.get("/api/trending/topics", "limit=4")

    assert [(t["topic_id"], t["rank"]) for t in body["topics"]] == [("k0", 1), ("k1", 2), ("k2", 3), ("k3", 4)]


async def test_refill_walks_past_many_missing_topics(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["last"])
    await commit(api.db, e, [*(row(f"ghost-{i:03}", e, 1000.0 - i) for i in range(450)), row("last", e, 0.5)])

    body = await api.get("/api/trending/topics", "limit=100")

    assert [(t["topic_id"], t["rank"]) for t in body["topics"]] == [("last", 1)]


async def test_limit_defaults_to_10_and_caps_the_list(api: Api) -> None:
    e = boundary()
    ids = [f"t{i:03}" for i in range(120)]
    await create_db(api.db, ids)
    await commit(api.db, e, [row(t, e, 200.0 - i) for i, t in enumerate(ids)])

    assert [t["topic_id"] for t in (await api.get("/api/trending/topics"))["topics"]] == ids[:10]
    assert len((await api.get("/api/trending/topics", "limit=1"))["topics"]) == 1
    full = (await api.get("/api/trending/topics", "limit=100"))["topics"]
    assert [t["topic_id"] for t in full] == ids[:100]
    assert [t["rank"] for t in full] == list(range(1, 101))


async def test_an_empty_snapshot_is_a_fresh_empty_list(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a"])
    await commit(api.db, e, [])

    assert await api.get("/api/trending/topics") == {
        "generated_at": e, "data_source": "metrics", "stale": False, "topics": [],
    }


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=-1", "limit=abc", "limit=", "limit=1.5", "limit=%2B5", "limit=10&limit=20",
    "limt=5", "topic_ids=a",
])
async def test_bad_parameters_are_a_400_with_a_json_error(api: Api, query: str) -> None:
    await create_db(api.db, ["a"])
    await commit(api.db, boundary(), [row("a", boundary(), 1.0)])

    body = await api.get("/api/trending/topics", query, status=400)

    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] in {"invalid_limit", "unknown_parameter", "repeated_parameter"}
    assert "Traceback" not in body["error"]["message"]


async def test_score_change_is_against_the_previous_committed_snapshot(api: Api) -> None:
    e = boundary()
    older, previous = e - 15 * 60_000, e - 10 * 60_000
    await create_db(api.db, ["up", "down", "new", "same"])
    await commit(api.db, older, [row("up", older, 100.0), row("new", older, 100.0)])
    await commit(api.db, previous, [row("up", previous, 2.0), row("down", previous, 9.0), row("same", previous, 3.0)])
    await commit(api.db, e, [row("up", e, 6.5), row("down", e, 4.0), row("new", e, 1.0), row("same", e, 3.0)])

    body = await api.get("/api/trending/topics")

    changes = {t["topic_id"]: t["score_change"] for t in body["topics"]}
    # "new" had a row two snapshots ago, but none in the previous one.
    assert changes == {"up": 6.5 - 2.0, "down": 4.0 - 9.0, "new": None, "same": 0.0}


async def test_a_rewrite_of_the_current_snapshot_is_served_at_once(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e, [row("a", e, 2.0), row("b", e, 1.0)])
    assert [t["topic_id"] for t in (await api.get("/api/trending/topics"))["topics"]] == ["a", "b"]

    await commit(api.db, e, [row("a", e, 1.0), row("b", e, 3.0)], source="reconcile")

    assert [t["topic_id"] for t in (await api.get("/api/trending/topics"))["topics"]] == ["b", "a"]


async def test_no_answer_ever_mixes_two_snapshots(api: Api) -> None:
    """Snapshots are rewritten and replaced while requests run; each answer must come from one of them."""
    e = boundary()
    ids = [f"t{i:02}" for i in range(40)]
    await create_db(api.db, ids)
    await commit(api.db, e - 300_000, [row(t, e - 300_000, 1.0, posts_24h=1) for t in ids])

    async def writer() -> None:
        for version in range(2, 26):
            # Every row of write `version` carries posts_24h == version; E moves on every fifth write.
            end = e - 300_000 if version < 12 else e
            await commit(api.db, end, [row(t, end, float((i * version) % 17), posts_24h=version)
                                       for i, t in enumerate(ids)])

    async def reader() -> set[int]:
        seen = set()
        for _ in range(40):
            body = await api.get("/api/trending/topics", "limit=100")
            marks = {t["posts_24h"] for t in body["topics"]}
            assert len(marks) == 1, f"one answer mixed the writes {sorted(marks)}"
            seen |= marks
        return seen

    readers = [asyncio.create_task(reader()) for _ in range(4)]
    await writer()
    seen = set().union(*await asyncio.gather(*readers))

    assert len(seen) > 1, "the readers never saw a snapshot change"


async def test_unknown_paths_and_methods_are_json_errors(api: Api) -> None:
    async with api.session.get(f"{api.server.url}/api/trending/nope") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with api.session.post(f"{api.server.url}/api/trending/topics") as response:
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"
        assert "GET" in response.headers["Allow"]


async def test_a_database_that_is_not_sqlite_is_a_503_json_error(api: Api) -> None:
    api.db.write_bytes(b"this is not a database" * 100)

    body = await api.get("/api/trending/topics", status=503)

    assert body["error"]["code"] == "database_unavailable"


async def test_an_unexpected_failure_is_a_json_500_without_a_trace(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(limit: int) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.server.reader, "topics", broken)

    body = await api.get("/api/trending/topics", status=500)

    assert body == {"error": {"code": "internal_error", "message": "internal server error"}}


async def test_scores_are_rounded_to_six_places_and_the_database_keeps_full_precision(api: Api) -> None:
    e = boundary()
    noisy = 0.1 + 0.2  # 0.30000000000000004
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e - 300_000, [row("a", e - 300_000, 0.1), row("b", e - 300_000, 1.0)])
    await commit(api.db, e, [row("a", e, noisy, score_6h=0.7 * 3), row("b", e, 1.0 / 3)])

    async with api.session.get(f"{api.server.url}/api/trending/topics") as response:
        text = await response.text()
    body = await api.get("/api/trending/topics")
    history = await api.get("/api/trending/history", "topic_ids=a,b")

    # Every decimal in the raw body has at most six places (0.30000000000000004 would not). Only
    # numbers with a point: an epoch-ms timestamp may well hold seven zeros in a row.
    decimals = re.findall(r"-?\d+\.(\d+)", text)
    assert decimals and all(len(places) <= 6 for places in decimals), decimals
    assert [(t["trending_score"], t["score_6h"], t["score_change"]) for t in body["topics"]] == [
        (0.333333, 0.0, -0.666667),
        (0.3, 2.1, 0.2),
    ]
    assert [t["score_24h"] for t in history["topics"]] == [[0.1, 0.3], [1.0, 0.333333]]
    with sqlite3.connect(api.db) as conn:
        stored = conn.execute("SELECT score_24h FROM topic_metrics WHERE topic_id = 'a' AND window_end = ?", (e,))
        assert stored.fetchone() == (noisy,)
