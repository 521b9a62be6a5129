"""`kukuri-trending reconcile` and `backfill` run as real subprocesses on a real SQLite file."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli.reconcile_cmd import iso
from streams.events import Event
from tests.fixtures.app_db import HOUR, MINUTE, build_app_db, expected_snapshot, recent_boundary, scenario, stored_rows

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, db: Path, ttl_hours: int = 1, history_ttl_hours: int = 168) -> Path:
    config = tmp_path / "app.toml"
    config.write_text(
        f'[database]\npath = "{db}"\n\n[metrics]\nttl_hours = {ttl_hours}\nhistory_ttl_hours = {history_ttl_hours}\n',
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str, stderr: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUKURI_")}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--config", str(config), "--log-format", "json", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=120,
    )


@pytest.fixture
async def app(tmp_path: Path) -> tuple[Path, Path, int, list[Event]]:
    e = recent_boundary()
    events = scenario(e)
    db = await build_app_db(tmp_path / "app.db", events)
    return db, write_config(tmp_path, db), e, events


def run_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM trending_runs").fetchone()[0])


async def test_dry_run_prints_the_diff_and_writes_nothing(app: tuple[Path, Path, int, list[Event]]) -> None:
    db, config, e, _ = app
    done = cli(config, "reconcile", "--at", str(e), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("2 topics recomputed, 0 stored; 2 missing, 0 extra, 0 changed, 0 extra-window rows"
                             " differ: would repair")
    assert lines[1].startswith("  missing  python  posts_24h=2 unique_authors=2 boosts=1 score_24h=")
    assert lines[2].startswith("  missing  rust  posts_24h=3 unique_authors=3 boosts=2 score_24h=")
    assert run_count(db) == 0


async def test_the_default_boundary_is_the_latest(app: tuple[Path, Path, int, list[Event]]) -> None:
    _, config, _, _ = app
    before = recent_boundary(0)
    body = json.loads(cli(config, "reconcile", "--dry-run", "--json").stdout)
    assert body["window_end"] in (before, recent_boundary(0)) and body["requested_at"] is None


async def test_repair_then_drift_then_json_repair(app: tuple[Path, Path, int, list[Event]]) -> None:
    db, config, e, events = app
    assert cli(config, "reconcile", "--at", str(e)).returncode == 0
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE topic_metrics SET posts_24h = 7 WHERE topic_id = 'rust'")

    dry = cli(config, "reconcile", "--at", str(e), "--dry-run")
    assert "  changed  rust  posts_24h 7 -> 3" in dry.stdout.splitlines()

    done = cli(config, "reconcile", "--at", str(e), "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["window_end"], body["verdict"], body["changed"], body["written"]) == (e, "repaired", 1, True)
    assert body["rows"] == [
        {"status": "changed", "topic_id": "rust", "columns": {"posts_24h": {"stored": 7, "recomputed": 3}}}
    ]
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]

    clean = json.loads(cli(config, "reconcile", "--at", str(e), "--json").stdout)
    assert (clean["verdict"], clean["written"], clean["previous_source"]) == ("clean", False, "reconcile")


async def test_an_unaligned_time_is_aligned_down_with_a_note(app: tuple[Path, Path, int, list[Event]]) -> None:
    _, config, e, _ = app
    done = cli(config, "reconcile", "--at", str(e + 4 * MINUTE + 1234), "--dry-run")
    assert done.returncode == 0
    assert "is not on a 5-minute boundary; reconciling" in done.stderr and f"({e})" in done.stderr
    assert f"({e})" in done.stdout.splitlines()[0]
    body = json.loads(cli(config, "reconcile", "--at", str(e + 1), "--dry-run", "--json").stdout)
    assert (body["requested_at"], body["window_end"]) == (e + 1, e)


async def test_gaps_fill_every_boundary_within_the_ttl(app: tuple[Path, Path, int, list[Event]]) -> None:
    db, config, e, events = app
    assert cli(config, "reconcile", "--at", str(e)).returncode == 0
    dry = json.loads(cli(config, "reconcile", "--gaps", "--dry-run", "--json").stdout)
    assert dry["boundaries_checked"] == 12 and e not in dry["gaps"] and len(dry["gaps"]) == 11
    assert run_count(db) == 1

    done = cli(config, "reconcile", "--gaps", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [r["window_end"] for r in body["results"]] == body["gaps"]
    assert all(r["written"] for r in body["results"])
    assert run_count(db) >= 11  # the oldest boundary may have left the TTL since
    for boundary in body["gaps"][1:]:
        assert stored_rows(db, boundary) == expected_snapshot(events, boundary)[0]
    text = cli(config, "reconcile", "--gaps")
    assert text.stdout.startswith("0 of 12 boundaries within the last 1 h have no recorded run")


async def test_backfill_json_and_apply(app: tuple[Path, Path, int, list[Event]]) -> None:
    db, config, e, events = app
    done = cli(config, "backfill", "--minutes", "60", "--until", str(e), "--apply", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["boundaries"], body["last_window_end"], body["applied"], body["latest_topics"]) == (12, e, True, 2)
    assert "backfill [" not in done.stderr  # no terminal, no progress bar
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT window_end) FROM topic_metrics_history").fetchone()[0] == 12
        assert conn.execute("SELECT source FROM trending_runs WHERE window_end = ?", (e,)).fetchone() == ("backfill",)
    assert stored_rows(db, e) == expected_snapshot(events, e)[0]


async def test_backfill_draws_progress_on_a_terminal(app: tuple[Path, Path, int, list[Event]]) -> None:
    _, config, e, _ = app
    leader, follower = pty.openpty()
    try:
        done = cli(config, "backfill", "--minutes", "30", "--until", str(e), stderr=follower)
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0
    assert b"backfill [##############################]  6/6  100%  ETA 0:00" in drawn
    assert done.stdout.startswith("backfilled 6 boundaries")


@pytest.mark.parametrize(
    "args",
    [
        ["reconcile", "--at", "yesterday"],
        ["reconcile", "--at", "2023-11-14T22:00:00Z", "--gaps"],
        ["reconcile", "--at", str(recent_boundary(-100))],
        ["reconcile", "--at", str(recent_boundary(1000))],
        ["backfill", "--minutes", "0"],
        ["backfill", "--minutes", "lots"],
        ["backfill", "--until", str(recent_boundary(-100))],
        ["backfill", "--apply", "--compare"],
        ["backfill", "--minutes", "43200"],  # reaches past history_ttl_hours (168): would expire at once
    ],
)
async def test_bad_arguments_exit_2_with_one_line(app: tuple[Path, Path, int, list[Event]], args: list[str]) -> None:
    db, config, _, _ = app
    done = cli(config, *args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and "error" in done.stderr
    assert done.stdout == "" and run_count(db) == 0


def history_boundaries(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [b for (b,) in conn.execute("SELECT DISTINCT window_end FROM topic_metrics_history ORDER BY 1")]


def add_history(db: Path, *boundaries: int) -> None:
    """One hand-written history row per boundary, as an earlier backfill would have left it."""
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO topic_metrics_history (topic_id, window_start, window_end, updated_at, source, run_at)"
            " VALUES ('old', ?, ?, 0, 'backfill', 0)", [(b - 24 * HOUR, b) for b in boundaries],
        )


@pytest.mark.parametrize(("history_ttl_hours", "kept"), [(1, ["young"]), (0, ["old", "young"])])
async def test_backfill_expires_history_older_than_its_ttl(
    tmp_path: Path, history_ttl_hours: int, kept: list[str]
) -> None:
    e = recent_boundary()
    db = await build_app_db(tmp_path / "app.db", scenario(e))
    config = write_config(tmp_path, db, history_ttl_hours=history_ttl_hours)
    old, young = e - 3 * HOUR, e - 30 * MINUTE
    add_history(db, old, young)

    done = cli(config, "backfill", "--minutes", "10", "--until", str(e), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["expired_history"] == (1 if history_ttl_hours else 0)
    left = {"old": old, "young": young}
    assert history_boundaries(db) == sorted([left[k] for k in kept] + [e - 5 * MINUTE, e])
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    assert any(r.get("event") == "backfill.completed" and r["expired_history"] == len(left) - len(kept) for r in logged)

    text = cli(config, "backfill", "--minutes", "5", "--until", str(e))
    assert text.returncode == 0 and f"0 history rows older than {history_ttl_hours} h expired" in text.stdout


async def test_backfill_compare_reports_each_kind_of_difference(app: tuple[Path, Path, int, list[Event]]) -> None:
    db, config, e, _ = app
    assert cli(config, "backfill", "--minutes", "10", "--until", str(e), "--apply").returncode == 0
    clean = cli(config, "backfill", "--compare", "--minutes", "5", "--until", str(e), "--json")
    assert clean.returncode == 0, clean.stderr
    body = json.loads(clean.stdout)
    assert (body["agrees"], body["boundaries"], body["boundaries_compared"]) == (True, 1, 1)

    with sqlite3.connect(db) as conn:  # the stream (or someone) has written something else since
        conn.execute("UPDATE topic_metrics SET posts_24h = 7, updated_at = 1 WHERE topic_id = 'rust'")
        conn.execute("DELETE FROM topic_metrics WHERE topic_id = 'python'")
        conn.execute("INSERT INTO topic_metrics (topic_id, window_start, window_end, posts_24h, updated_at)"
                     " VALUES ('go', ?, ?, 1, 0)", (e - 24 * HOUR, e))
    before = history_boundaries(db)

    done = cli(config, "backfill", "--compare", "--minutes", "10", "--until", str(e), "--json")
    assert done.returncode == 0, done.stderr  # differences are the report, not a failure
    body = json.loads(done.stdout)
    assert (body["agrees"], body["boundaries"], body["boundaries_compared"], body["boundaries_differing"]) == (
        False, 2, 2, 2)
    earlier, latest = body["results"]
    # The earlier boundary was backfilled but never applied: every topic is only in the history.
    assert (earlier["window_end"], earlier["only_in_history"], earlier["metrics_topics"]) == (
        e - 5 * MINUTE, ["python", "rust"], 0)
    assert latest == {
        "window_end": e, "agrees": False, "history_topics": 2, "metrics_topics": 2,
        "only_in_history": ["python"], "only_in_metrics": ["go"],
        "changed": {"rust": {"posts_24h": {"history": 3, "topic_metrics": 7}}},
    }

    text = cli(config, "backfill", "--compare", "--minutes", "5", "--until", str(e))
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        f"compared 1 boundaries, {iso(e)} .. {iso(e)}: topic_metrics_history (source=backfill) and topic_metrics"
        " agree on 0, differ on 1; 0 have rows on neither side",
        f"{iso(e)} ({e}): 2 topics in history, 2 in topic_metrics: 1 only in history, 1 only in topic_metrics,"
        " 1 changed (history -> topic_metrics)",
        "  only in history          python",
        "  only in topic_metrics    go",
        "  changed                  rust  posts_24h 3 -> 7",
    ]
    assert history_boundaries(db) == before  # a comparison writes nothing


async def test_backfill_compare_of_an_empty_span(app: tuple[Path, Path, int, list[Event]]) -> None:
    _, config, e, _ = app
    done = cli(config, "backfill", "--compare", "--minutes", "15", "--until", str(e))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"compared 3 boundaries, {iso(e - 10 * MINUTE)} .. {iso(e)}: topic_metrics_history (source=backfill)"
        " and topic_metrics agree on 0, differ on 0; 3 have rows on neither side",
    ]


async def test_unreadable_app_database_exits_1_with_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "missing.db")
    for args in (["reconcile"], ["reconcile", "--gaps"], ["backfill", "--minutes", "10"], ["backfill", "--compare"]):
        done = cli(config, *args)
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            f"kukuri-trending {args[0]}: error: cannot read the app database {tmp_path / 'missing.db'}:"
            f" unable to open database file: {tmp_path / 'missing.db'}; check database.path (KUKURI_DATABASE_PATH)"
        ]
    assert not (tmp_path / "missing.db").exists()


async def test_old_facts_outside_the_ttl_are_only_compared(tmp_path: Path) -> None:
    e = recent_boundary(24)  # two hours back, ttl 1 h
    db = await build_app_db(tmp_path / "app.db", [Event("p", "post", "t", "a", e - HOUR)])
    config = write_config(tmp_path, db)
    assert cli(config, "reconcile", "--at", str(e)).returncode == 2
    dry = cli(config, "reconcile", "--at", str(e), "--dry-run")
    assert dry.returncode == 0 and "  missing  t  posts_24h=1" in dry.stdout
