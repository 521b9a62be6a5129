"""The answer cache: what it serves from memory, and every change that makes it build again.

Against real SQLite files: the cache is only as good as `PRAGMA data_version`, so that is what these
tests exercise, with another connection committing the way the sink does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from api.cache import AnswerCache, AnswerLifetime, Built, DatabaseVersion
from streams.events import Event
from tests.api.conftest import Api
from tests.api.support import add_facts, boundary, commit, create_db, execute, row

pytestmark = pytest.mark.integration

LIFETIME = AnswerLifetime(interval_ms=300_000, stale_after_ms=900_000)


class Clock:
    def __init__(self, now: int = 1_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class Builder:
    """Counts builds; each answers `b"<n>"` and holds until `expires_at`."""

    def __init__(self, expires_at: int | None = 10_000) -> None:
        self.builds = 0
        self.expires_at = expires_at
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> Built:
        self.builds += 1
        body = str(self.builds).encode()
        await self.release.wait()
        return body, self.expires_at


async def make_cache(tmp_path: Path, clock: Clock) -> tuple[Path, AnswerCache]:
    db = await create_db(tmp_path / "kukuri.db", ["a"])
    return db, AnswerCache(DatabaseVersion(db), LIFETIME, clock)


async def test_the_same_question_is_answered_from_memory_until_another_connection_commits(tmp_path: Path) -> None:
    clock = Clock()
    db, cache = await make_cache(tmp_path, clock)
    build = Builder()

    assert [await cache.get("q", build) for _ in range(3)] == [b"1", b"1", b"1"]
    assert await cache.get("other", build) == b"2"

    await execute(db, "UPDATE topics SET member_count = 5 WHERE topic_id = 'a'")

    assert await cache.get("q", build) == b"3"
    assert await cache.get("q", build) == b"3"
    assert await cache.get("other", build) == b"4"
    cache.clear()


async def test_an_answer_is_built_again_once_its_time_is_up(tmp_path: Path) -> None:
    clock = Clock(1_000)
    _, cache = await make_cache(tmp_path, clock)
    build = Builder(expires_at=2_000)

    assert await cache.get("q", build) == b"1"
    clock.now = 1_999
    assert await cache.get("q", build) == b"1"
    clock.now = 2_000
    assert await cache.get("q", build) == b"2"
    cache.clear()


async def test_answers_that_hold_for_no_time_are_never_kept(tmp_path: Path) -> None:
    _, cache = await make_cache(tmp_path, Clock())
    build = Builder(expires_at=None)

    assert [await cache.get("q", build) for _ in range(3)] == [b"1", b"2", b"3"]
    cache.clear()


async def test_the_least_recently_asked_answers_go_first_once_the_byte_budget_is_full(tmp_path: Path) -> None:
    db = await create_db(tmp_path / "kukuri.db", ["a"])
    cache = AnswerCache(DatabaseVersion(db), LIFETIME, Clock(), max_bytes=400)
    builds: list[str] = []

    def sized(name: str, size: int) -> Callable[[], Awaitable[Built]]:
        async def build() -> Built:
            builds.append(name)
            return name.encode().ljust(size, b" "), 10_000
        return build

    for name in ("a", "b", "c"):
        await cache.get(name, sized(name, 100))
    await cache.get("a", sized("a", 100))  # "a" is now the most recently asked
    await cache.get("d", sized("d", 100))
    await cache.get("e", sized("e", 100))  # 500 bytes: "b", the least recently asked, goes
    await cache.get("huge", sized("huge", 101))  # over a quarter of the budget: answered, not kept
    for name in ("e", "d", "a", "c", "huge", "b"):
        await cache.get(name, sized(name, 100))

    assert builds == ["a", "b", "c", "d", "e", "huge", "huge", "b"]
    assert cache.size_bytes <= 400
    cache.clear()


async def test_without_a_readable_database_every_request_is_built(tmp_path: Path) -> None:
    missing = AnswerCache(DatabaseVersion(tmp_path / "absent.db"), LIFETIME, Clock())
    not_sqlite = tmp_path / "garbage.db"
    not_sqlite.write_bytes(b"this is not a database" * 100)
    garbage = AnswerCache(DatabaseVersion(not_sqlite), LIFETIME, Clock())
    build = Builder()

    assert [await missing.get("q", build) for _ in range(2)] == [b"1", b"2"]
    assert [await garbage.get("q", build) for _ in range(2)] == [b"3", b"4"]


async def test_concurrent_misses_share_one_build_and_survive_a_caller_hanging_up(tmp_path: Path) -> None:
    _, cache = await make_cache(tmp_path, Clock())
    build = Builder()
    build.release.clear()

    waiters = [asyncio.create_task(cache.get("q", build)) for _ in range(20)]
    await asyncio.sleep(0.01)
    waiters[0].cancel()
    build.release.set()
    answers = await asyncio.gather(*waiters[1:])

    assert build.builds == 1
    assert set(answers) == {b"1"}
    assert await cache.get("q", build) == b"1"
    cache.clear()


async def test_a_failed_build_is_not_kept(tmp_path: Path) -> None:
    _, cache = await make_cache(tmp_path, Clock())
    calls = 0

    async def flaky() -> Built:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database hiccup")
        return b"ok", 10_000

    with pytest.raises(RuntimeError):
        await cache.get("q", flaky)
    assert await cache.get("q", flaky) == b"ok"
    cache.clear()


async def test_over_http_topic_details_and_new_snapshots_show_on_the_next_request(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e, [row("a", e, 2.0), row("b", e, 1.0)])
    first = await api.get("/api/trending/topics")
    assert await api.get("/api/trending/topics") == first

    await execute(api.db, "UPDATE topics SET name = 'Renamed' WHERE topic_id = 'b'")
    assert [t["name"] for t in (await api.get("/api/trending/topics"))["topics"]] == ["Topic a", "Renamed"]

    await commit(api.db, e, [row("a", e, 1.0), row("b", e, 3.0)], source="reconcile")
    assert [t["topic_id"] for t in (await api.get("/api/trending/topics"))["topics"]] == ["b", "a"]
    posts = await api.get("/api/trending/posts", "topic_ids=a,b")
    assert [t["topic_id"] for t in posts["topics"]] == ["a", "b"]


async def test_over_http_a_fallback_answer_gives_way_to_the_next_commit(api: Api) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, boundary(60), [row("a", boundary(60), 1.0)])
    await add_facts(api.db, [Event("p1", "post", "b", "alice", e - 60_000)])

    live = [await api.get("/api/trending/topics") for _ in range(3)]
    await commit(api.db, e, [row("a", e, 5.0), row("b", e, 1.0)])
    fresh = await api.get("/api/trending/topics")

    assert [(body["data_source"], body["stale"]) for body in live] == [("fallback", True)] * 3
    assert live[0] == live[1] == live[2]
    assert [t["topic_id"] for t in live[0]["topics"]] == ["b"]
    assert (fresh["data_source"], fresh["stale"], fresh["generated_at"]) == ("metrics", False, e)
    assert [t["topic_id"] for t in fresh["topics"]] == ["a", "b"]
