"""`produce --rate` (synthetic traffic, mirrored into the app database) and `top` over a real worker."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import pytest

from tests.agents.test_worker_integration import materialize, now_boundary
from tests.fixtures.trending_env import TrendingEnv

pytestmark = pytest.mark.integration


def top_json_and_table(env: TrendingEnv, attempts: int = 3) -> tuple[dict, list[str]]:
    """`top --json` and the `top` table of one snapshot: read again if a boundary passed in between."""
    for _ in range(attempts):
        top = env.cli("top", "--limit", "3", "--json")
        assert top.returncode == 0, top.stderr
        body = json.loads(top.stdout)
        table = env.cli("top", "--limit", "3")
        assert table.returncode == 0, table.stderr
        lines = table.stdout.splitlines()
        at = datetime.fromtimestamp(body["generated_at"] / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if lines[0].startswith(f"trending topics at {at} "):
            return body, lines
    raise AssertionError(f"top and top --json kept showing different snapshots: {lines[0]!r}, {at}")


def test_synthetic_traffic_reaches_the_worker_the_app_database_and_top(trending_env: TrendingEnv) -> None:
    env = trending_env
    assert env.cli("migrate").returncode == 0  # the worker never creates the database itself
    env.start_worker()
    env.wait_for_workers()
    result = env.cli("produce", "--rate", "300", "--topics", "6", "--duration", "2", "--history", "400",
                     "--app-db", "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["facts"] >= 400 and summary["sent"] >= summary["facts"]
    with sqlite3.connect(env.db) as conn:
        kinds = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
        assert kinds[1] > 0 and kinds[6] > 0  # posts/replies and boosts, as the app stores them
        assert conn.execute("SELECT COUNT(*) FROM bookmarks").fetchone()[0] > 0
        assert conn.execute("SELECT COUNT(*) FROM topics").fetchone()[0] == 6
        assert conn.execute("SELECT COUNT(*) FROM events WHERE deleted = 1").fetchone()[0] > 0

    E = now_boundary()
    materialize(env, E)
    body, lines = top_json_and_table(env)
    assert body["generated_at"] in (E, E + 300_000)  # the worker's timer may write the next boundary meanwhile
    assert body["data_source"] == "metrics"
    assert [t["rank"] for t in body["topics"]] == [1, 2, 3]
    scores = [t["trending_score"] for t in body["topics"]]
    assert scores == sorted(scores, reverse=True)
    assert "source=metrics  fresh  topics=3" in lines[0]
    assert len(lines) == 2 + 3 and body["topics"][0]["name"] in lines[2]

    # The stream and the app database saw the same facts, so reconciliation finds nothing to repair.
    check = env.cli("reconcile", "--at", str(body["generated_at"]), "--dry-run", "--json")
    assert json.loads(check.stdout)["clean"], check.stdout
