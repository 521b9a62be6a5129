"""Building real trending databases, running the real API process, checking answers against OpenAPI.

Shared by the API tests and the dashboard's browser test (which cannot use tests/api's fixtures).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import IO, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from config.settings import DatabaseSettings, Settings
from sinks.database import connect_writer
from sinks.kukuri_app import ensure_kukuri_tables, upsert_topics
from sinks.migrate import apply_migrations
from sinks.storage.snapshots import RunSource, now_ms, write_snapshot
from streams.metrics import Snapshot, TopicMetrics
from streams.snapshot_profiles import part_profiles
from streams.windows import HOUR_MS, MINUTE_MS, align_down
from tests.fixtures.app_db import add_facts  # noqa: F401 - re-exported for the API tests

REPO = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO / "api" / "openapi.json"
INTERVAL_MS = 5 * MINUTE_MS


def settings_for(db: Path) -> Settings:
    return Settings(database=DatabaseSettings(path=db))


def boundary(minutes_ago: int = 0) -> int:
    """A snapshot boundary `minutes_ago` (rounded down to the interval) before now."""
    return align_down(now_ms() - minutes_ago * MINUTE_MS, INTERVAL_MS)


def row(
    topic_id: str,
    window_end: int,
    score_24h: float,
    *,
    score_6h: float = 0.0,
    posts_24h: int = 1,
    posts_6h: int = 0,
    unique_authors: int = 1,
    boosts: int = 0,
    replies: int = 0,
    bookmarks: int = 0,
    participant_delta: int = 0,
) -> TopicMetrics:
    """A `topic_metrics` row with exactly these numbers (the API only reads them, never recomputes)."""
    return TopicMetrics(
        topic_id=topic_id, window_start=window_end - 24 * HOUR_MS, window_end=window_end,
        posts_24h=posts_24h, posts_6h=posts_6h, unique_authors=unique_authors, boosts=boosts, replies=replies,
        bookmarks=bookmarks, participant_delta=participant_delta, score_24h=score_24h, score_6h=score_6h,
        updated_at=now_ms(), unique_authors_6h=0, boosts_6h=0, replies_6h=0, bookmarks_6h=0,
        participants_24h=unique_authors,
    )


async def create_db(path: Path, topics: Iterable[str] = (), *, descriptions: dict[str, str] | None = None) -> Path:
    """kukuri's tables plus our migrations, with a `topics` row for each id (name = "Topic <id>")."""
    conn = await connect_writer(path)
    try:
        await ensure_kukuri_tables(conn)
        await apply_migrations(conn)
        described = descriptions or {}
        await upsert_topics(conn, [(t, f"Topic {t}", described.get(t, f"About {t}")) for t in topics], now_ms())
    finally:
        await conn.close()
    return path


async def commit(path: Path, window_end: int, rows: Sequence[TopicMetrics], *, source: RunSource = "stream") -> None:
    """Commit a snapshot the way the sink does (one transaction, recorded in trending_runs)."""
    conn = await connect_writer(path)
    try:
        await write_snapshot(conn, window_end, rows, source=source, ttl_hours=48,
                             profiles=part_profiles(Settings().metrics.profiles.computed))
    finally:
        await conn.close()


async def commit_scored(settings: Settings, snapshot: Snapshot, *, source: RunSource = "stream") -> None:
    """Commit a snapshot scored with `settings`' computed profiles, shadow scores included, the way
    the sink does."""
    conn = await connect_writer(settings.database.path)
    try:
        await write_snapshot(conn, snapshot.boundary, snapshot.rows, source=source, ttl_hours=48,
                             profile_rows=snapshot.profile_rows,
                             profiles=part_profiles(settings.metrics.profiles.computed))
    finally:
        await conn.close()


async def execute(path: Path, *statements: str) -> None:
    conn = await connect_writer(path)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


# ---- OpenAPI ---------------------------------------------------------------------------------

@cache
def openapi() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


@cache
def _registry() -> Registry:
    return Registry().with_resource("urn:openapi", Resource.from_contents(openapi(), default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def assert_matches_openapi(path: str, status: int, body: Any, *, method: str = "get") -> None:
    """`body` is what the OpenAPI document promises for `method path` answered with `status`."""
    responses = openapi()["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} answered {status}, which the document does not list"
    _validate(body, "paths", path, method, "responses", str(status), "content", "application/json", "schema")


def assert_feed_message(message: Any) -> None:
    """`message` is one of the feed messages the document describes (FeedSnapshot or FeedError)."""
    stream = ("paths", "/api/trending/stream", "get", "responses", "101")
    _validate(message, *stream, "content", "application/json", "schema")


def _validate(instance: Any, *pointer: str) -> None:
    Draft202012Validator({"$ref": f"urn:openapi#/{_pointer(*pointer)}"}, registry=_registry()).validate(instance)


# ---- the API as its own process -------------------------------------------------------------

@contextmanager
def api_process(
    db: Path, *extra_env: tuple[str, str], config: Path | None = None, log_file: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`kukuri-trending [--config CONFIG] api --port 0` in a subprocess; yields (base URL, process);
    stops it with SIGTERM. The caller's own `KUKURI_CONFIG` is not inherited; `extra_env` may set one.

    Its log (stderr) is a pipe to read after it stopped, or `log_file` for a process that may log more
    than a pipe holds (a full pipe would block the server).
    """
    inherited = {k: v for k, v in os.environ.items() if k != "KUKURI_CONFIG"}
    env = {**inherited, "KUKURI_DATABASE_PATH": str(db), **dict(extra_env)}
    options = [] if config is None else ["--config", str(config)]
    with ExitStack() as opened:  # the child keeps its own copy of the log file's descriptor
        log: IO[str] | int = subprocess.PIPE if log_file is None else opened.enter_context(log_file.open("w"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", *options, "--log-format", "json", "api", "--port", "0"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
        )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "serving " not in line:
            proc.kill()
            raise AssertionError(f"api did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        url = line.split("serving ", 1)[1].split()[0]
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(predicate: Any, timeout: float = 5.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
