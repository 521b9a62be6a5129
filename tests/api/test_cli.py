"""`kukuri-trending api` (its own process, clean stop on SIGINT/SIGTERM) and `kukuri-trending watch`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cli import watch_cmd
from cli.main import main
from config.settings import ApiSettings, Settings
from tests.api.conftest import Api
from tests.api.support import api_process, boundary, commit, create_db, row, settings_for


def fetch(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.integration
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
async def test_the_api_command_serves_until_a_signal_and_stops_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    db = await create_db(tmp_path / "kukuri.db", ["a"])
    e = boundary()
    await commit(db, e, [row("a", e, 1.0)])

    with api_process(db) as (url, proc):
        assert url.startswith("http://127.0.0.1:")
        status, body = await asyncio.to_thread(fetch, f"{url}/api/trending/topics?limit=1")
        assert status == 200 and body["generated_at"] == e
        proc.send_signal(stop)
        code = await asyncio.to_thread(proc.wait, 10)
        stderr = proc.stderr.read() if proc.stderr else ""

    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "trending_api.stopped" in stderr


def test_the_api_command_rejects_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["api", "--port", "70000"])

    assert exited.value.code == 2
    assert "between 0 and 65535" in capsys.readouterr().err


def watch_args(url: str, *, count: int, json_lines: bool = False, limit: int = 10) -> argparse.Namespace:
    return argparse.Namespace(url=url, limit=limit, count=count, json=json_lines)


async def commit_when_watched(api: Api, e: int) -> None:
    while api.server.feed.client_count == 0:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await commit(api.db, e, [row("a", e, 1.0), row("b", e, 4.5)])


@pytest.mark.integration
async def test_watch_prints_a_table_per_snapshot(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e - 300_000, [row("a", e - 300_000, 3.0, posts_24h=7)])

    code, _ = await asyncio.gather(
        watch_cmd.run(watch_args(api.server.url, count=2), settings_for(api.db)), commit_when_watched(api, e)
    )

    out = capsys.readouterr().out
    assert code == 0
    first, second = out.strip().split("\n\n")
    assert "source=metrics  fresh  topics=1" in first
    assert "Topic a" in first and "3.00" in first and "new" in first
    rows = [line.split() for line in second.splitlines()[2:]]
    assert [(r[0], r[2], r[3], r[4]) for r in rows] == [("1", "b", "4.50", "new"), ("2", "a", "1.00", "-2.00")]


@pytest.mark.integration
async def test_watch_json_prints_the_raw_messages(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    e = boundary()
    await create_db(api.db, ["a", "b"])
    await commit(api.db, e - 300_000, [row("a", e - 300_000, 3.0)])

    code, _ = await asyncio.gather(
        watch_cmd.run(watch_args(api.server.url, count=2, json_lines=True, limit=1), settings_for(api.db)),
        commit_when_watched(api, e),
    )

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(m["type"], m["generated_at"], [t["topic_id"] for t in m["topics"]]) for m in lines] == [
        ("snapshot", e - 300_000, ["a"]), ("snapshot", e, ["b"]),
    ]


@pytest.mark.integration
async def test_watch_without_a_server_fails_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = await watch_cmd.run(watch_args("http://127.0.0.1:9", count=1), Settings())

    assert code == 1
    assert "cannot connect to ws://127.0.0.1:9/api/trending/stream" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "expected"), [
    ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/api/trending/stream?limit=5"),
    ("https://trends.example/base/", "wss://trends.example/base/api/trending/stream?limit=5"),
    ("ws://h:1/api/trending/stream", "ws://h:1/api/trending/stream?limit=5"),
    ("localhost:9000", "ws://localhost:9000/api/trending/stream?limit=5"),
])
def test_feed_url_accepts_base_and_feed_urls(given: str, expected: str) -> None:
    assert watch_cmd.feed_url(given, 5) == expected


def test_the_default_url_reaches_a_wildcard_bind_through_loopback() -> None:
    assert watch_cmd.default_base_url(Settings(api=ApiSettings("0.0.0.0", 8081))) == "http://127.0.0.1:8081"
    assert watch_cmd.default_base_url(Settings(api=ApiSettings("::1", 8082))) == "http://[::1]:8082"


@pytest.mark.integration
def test_top_and_watch_print_rounded_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    e = boundary()

    async def noisy_snapshots() -> Path:
        db = await create_db(tmp_path / "kukuri.db", ["a"])
        await commit(db, e - 300_000, [row("a", e - 300_000, 0.1)])
        await commit(db, e, [row("a", e, 0.1 + 0.2, score_6h=0.7 * 3)])
        return db

    db = asyncio.run(noisy_snapshots())
    monkeypatch.setenv("KUKURI_DATABASE_PATH", str(db))
    monkeypatch.delenv("KUKURI_CONFIG", raising=False)

    assert main(["top", "--json"]) == 0
    (topic,) = json.loads(capsys.readouterr().out)["topics"]
    with api_process(db) as (url, _proc):
        assert asyncio.run(watch_cmd.run(watch_args(url, count=1, json_lines=True), settings_for(db))) == 0
    (message,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    for shown in (topic, message["topics"][0]):
        assert (shown["trending_score"], shown["score_6h"], shown["score_change"]) == (0.3, 2.1, 0.2)
