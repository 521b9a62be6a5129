"""GET /healthz and GET /api/trending/history."""

from __future__ import annotations

import pytest

from sinks.storage.snapshots import now_ms
from tests.api.conftest import Api
from tests.api.support import boundary, commit, create_db, row

pytestmark = pytest.mark.integration


async def test_health_is_200_with_the_age_when_fresh(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a"])
    await commit(api.db, e, [row("a", e, 1.0)], source="reconcile")
    before = now_ms()

    body = await api.get("/healthz")

    assert (body["status"], body["last_snapshot"], body["source"]) == ("ok", e, "reconcile")
    assert body["metrics_enabled"] is True and "data_source" not in body
    assert before - e <= body["age_ms"] <= now_ms() - e
    assert body["stale_after_ms"] == 15 * 60_000
    assert body["finished_at"] >= e


async def test_health_is_503_when_stale(api: Api) -> None:
    e = boundary(20)
    await create_db(api.db, ["a"])
    await commit(api.db, e, [row("a", e, 1.0)])

    body = await api.get("/healthz", status=503)

    assert (body["status"], body["last_snapshot"], body["error"]["code"]) == ("stale", e, "stale")
    assert body["age_ms"] > 15 * 60_000


async def test_health_is_503_when_nothing_was_ever_committed(api: Api) -> None:
    await create_db(api.db, ["a"])

    body = await api.get("/healthz", status=503)

    assert (body["status"], body["last_snapshot"], body["age_ms"]) == ("missing", None, None)


async def test_history_is_the_score_per_retained_snapshot_with_zero_where_absent(api: Api) -> None:
    e = boundary()
    ends = [e - 10 * 60_000, e - 5 * 60_000, e]
    await create_db(api.db, ["a", "b"])
    await commit(api.db, ends[0], [row("a", ends[0], 1.0), row("b", ends[0], 4.0)])
    await commit(api.db, ends[1], [row("a", ends[1], 2.5)])
    await commit(api.db, ends[2], [row("a", ends[2], 3.0), row("b", ends[2], 1.5)])

    body = await api.get("/api/trending/history", "topic_ids=b,a,nobody")

    assert body == {
        "window_ends": ends,
        "topics": [
            {"topic_id": "b", "score_24h": [4.0, 0.0, 1.5]},
            {"topic_id": "a", "score_24h": [1.0, 2.5, 3.0]},
            {"topic_id": "nobody", "score_24h": [0.0, 0.0, 0.0]},
        ],
    }


async def test_history_defaults_to_the_trending_list(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e, [row("a", e, 1.0), row("b", e, 2.0)])

    body = await api.get("/api/trending/history")

    assert [t["topic_id"] for t in body["topics"]] == ["b", "a"]


@pytest.mark.parametrize("query", ["topic_ids=a,,b", "limit=3", "topic_ids="])
async def test_history_rejects_bad_parameters(api: Api, query: str) -> None:
    await create_db(api.db, ["a"])

    body = await api.get("/api/trending/history", query, status=400)

    assert body["error"]["code"] in {"invalid_topic_ids", "unknown_parameter"}


async def test_health_is_a_503_json_error_when_the_database_cannot_be_read(api: Api) -> None:
    api.db.write_bytes(b"not a database" * 100)

    body = await api.get("/healthz", status=503)

    assert body["error"]["code"] == "database_unavailable"
