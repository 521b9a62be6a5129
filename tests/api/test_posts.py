"""GET /api/trending/posts: live posts of the snapshot's 24 h window, ranked by engagement received."""

from __future__ import annotations

import pytest

from appdb.recompute import recompute_snapshot
from config.settings import ScoreWeights
from streams.events import Event
from tests.api.conftest import Api
from tests.api.support import add_facts, boundary, commit, create_db, row

pytestmark = pytest.mark.integration

HOUR = 3_600_000


def facts(e: int) -> list[Event]:
    return [
        Event("p_top", "post", "t", "alice", e - 10 * HOUR),
        *(Event(f"k_top{i}", "bookmark", "t", f"fan{i}", e - 9 * HOUR, "p_top") for i in range(3)),
        Event("p_boosted", "post", "t", "bob", e - 5 * HOUR),
        Event("x1", "boost", "t", "carol", e - 4 * HOUR, "p_boosted"),
        Event("x2", "boost", "t", "dave", e - 3 * HOUR, "p_boosted"),
        Event("p_mixed", "post", "t", "erin", e - 6 * HOUR),
        Event("r1", "reply", "t", "frank", e - 2 * HOUR, "p_mixed"),
        Event("k1", "bookmark", "t", "grace", e - HOUR, "p_mixed"),
        Event("p_quiet", "post", "t", "heidi", e - HOUR),
        Event("x_old", "boost", "t", "ivan", e - 25 * HOUR, "p_quiet"),  # before the window
        Event("x_gone", "boost", "t", "judy", e - HOUR, "p_quiet"),
        Event("del-x_gone", "delete", "t", "judy", e - HOUR, "x_gone"),  # a retracted boost
        Event("p_deleted", "post", "t", "mallory", e - 3 * HOUR),
        *(Event(f"x_del{i}", "boost", "t", f"b{i}", e - 2 * HOUR, "p_deleted") for i in range(5)),
        Event("del-p", "delete", "t", "mallory", e - HOUR, "p_deleted"),
        Event("p_old", "post", "t", "alice", e - 25 * HOUR),  # before the window
        Event("p_at_e", "post", "t", "alice", e),  # windows are half-open: E is outside
        Event("u1", "post", "u", "oscar", e - HOUR),
    ]


async def build(api: Api, e: int) -> None:
    await create_db(api.db, ["t", "u"])
    await add_facts(api.db, facts(e))
    snapshot = await recompute_snapshot(api.db, e, ScoreWeights())
    await commit(api.db, e, snapshot.rows, source="reconcile")


async def test_posts_are_ranked_by_engagement_then_newest_first(api: Api) -> None:
    e = boundary()
    await build(api, e)

    body = await api.get("/api/trending/posts", "topic_ids=t&per_topic=20")

    (group,) = body["topics"]
    assert (group["topic_id"], group["name"], group["posts_24h"]) == ("t", "Topic t", 5)
    ranked = [(p["event_id"], p["engagement"], p["relative_rank"]) for p in group["posts"]]
    assert ranked == [("p_top", 3, 1), ("p_boosted", 2, 2), ("p_mixed", 2, 3), ("p_quiet", 0, 4), ("r1", 0, 5)]
    by_id = {p["event_id"]: p for p in group["posts"]}
    assert (by_id["p_top"]["bookmarks"], by_id["p_boosted"]["boosts"]) == (3, 2)
    assert (by_id["p_mixed"]["replies"], by_id["p_mixed"]["bookmarks"], by_id["p_mixed"]["boosts"]) == (1, 1, 0)
    assert by_id["r1"]["reply_to"] == "p_mixed" and by_id["p_top"]["reply_to"] is None
    assert (by_id["p_top"]["author"], by_id["p_top"]["created_at"]) == ("alice", e - 10 * HOUR)
    assert (body["generated_at"], body["data_source"], body["stale"]) == (e, "metrics", False)


async def test_per_topic_caps_the_list(api: Api) -> None:
    e = boundary()
    await build(api, e)

    body = await api.get("/api/trending/posts", "topic_ids=t&per_topic=2")

    assert [p["event_id"] for p in body["topics"][0]["posts"]] == ["p_top", "p_boosted"]


async def test_posts_24h_of_the_snapshot_caps_the_list_too(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["t"])
    await add_facts(api.db, facts(e))
    await commit(api.db, e, [row("t", e, 3.0, posts_24h=2)])

    body = await api.get("/api/trending/posts", "topic_ids=t&per_topic=20")

    assert [p["relative_rank"] for p in body["topics"][0]["posts"]] == [1, 2]


async def test_topics_come_in_request_order_and_unknown_ones_are_empty(api: Api) -> None:
    e = boundary()
    await build(api, e)

    body = await api.get("/api/trending/posts", "topic_ids=u,zz,t,u&per_topic=1")

    assert [(g["topic_id"], g["name"], [p["event_id"] for p in g["posts"]]) for g in body["topics"]] == [
        ("u", "Topic u", ["u1"]), ("zz", None, []), ("t", "Topic t", ["p_top"]),
    ]


async def test_topic_ids_default_to_the_trending_list(api: Api) -> None:
    e = boundary()
    await build(api, e)

    topics = await api.get("/api/trending/topics")
    body = await api.get("/api/trending/posts")

    assert [g["topic_id"] for g in body["topics"]] == [t["topic_id"] for t in topics["topics"]] == ["t", "u"]
    assert [len(g["posts"]) for g in body["topics"]] == [3, 1]


@pytest.mark.parametrize("query", [
    "per_topic=0", "per_topic=21", "per_topic=x", "topic_ids=", "topic_ids=a,,b", "topic_ids=a,",
    "topic_ids=" + ",".join(f"t{i}" for i in range(51)), "topic_ids=" + "x" * 129, "limit=3",
    "per_topic=1&per_topic=2",
])
async def test_bad_parameters_are_a_400(api: Api, query: str) -> None:
    e = boundary()
    await build(api, e)

    body = await api.get("/api/trending/posts", query, status=400)

    codes = {"invalid_per_topic", "invalid_topic_ids", "unknown_parameter", "repeated_parameter"}
    assert body["error"]["code"] in codes
