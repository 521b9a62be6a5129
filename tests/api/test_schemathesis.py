"""The real API process under schemathesis: generated requests, valid and invalid, against the
OpenAPI document. No answer may be a 5xx, and every answer must be one the document describes.

Three states: fresh committed snapshots; no snapshot yet (every answer computed live by the
fallback); and the snapshot job disabled (`KUKURI_METRICS_ENABLED=0`) over an old snapshot, where
every answer is computed live too and `/healthz` answers 200 `disabled`. Bounded (`--max-examples`, `--max-time` per state) so it fits a CI run on two cores;
`KUKURI_SCHEMATHESIS_EXAMPLES` raises the examples per operation for a deeper run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from streams.events import Event
from tests.api.support import OPENAPI_PATH, add_facts, api_process, boundary, commit, create_db, row

pytestmark = pytest.mark.integration

MAX_EXAMPLES = int(os.environ.get("KUKURI_SCHEMATHESIS_EXAMPLES", "60"))
SECONDS_PER_STATE = 40
CHECKS = ",".join((
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "unsupported_method",
))
TOPICS = ["rust", "nostr", "kukuri"]


def a_day_of_posts(e: int) -> list[Event]:
    return [
        Event("p1", "post", "rust", "alice", e - 60_000),
        Event("p2", "post", "nostr", "bob", e - 120_000),
        Event("r1", "reply", "rust", "carol", e - 30_000, target_id="p1"),
        Event("b1", "boost", "rust", "dave", e - 20_000, target_id="p1"),
    ]


async def fresh_snapshots(path: Path) -> None:
    """Two snapshots (so score changes exist), topic rows and a few posts with engagement."""
    e = boundary()
    await create_db(path, TOPICS)
    await commit(path, e - 300_000, [row(t, e - 300_000, 1.0 + i) for i, t in enumerate(TOPICS)])
    await commit(path, e, [row(t, e, 0.1 + 0.2 * (i + 1), posts_24h=2) for i, t in enumerate(TOPICS)])
    await add_facts(path, a_day_of_posts(e))


async def no_snapshot_yet(path: Path) -> None:
    await create_db(path, TOPICS)
    await add_facts(path, a_day_of_posts(boundary()))


async def snapshots_disabled(path: Path) -> None:
    """An hour-old snapshot, left from before the job was disabled, and live facts."""
    await no_snapshot_yet(path)
    old = boundary(60)
    await commit(path, old, [row(t, old, 1.0 + i) for i, t in enumerate(TOPICS)])


# /api/trending/stream is a WebSocket: a plain GET is refused (400), so "valid requests" cannot
# succeed. Without a snapshot /healthz answers 503 by design (it is what a load balancer watches).
STATES: dict[str, tuple[Callable[[Path], Awaitable[None]], tuple[str, ...], tuple[tuple[str, str], ...]]] = {
    "fresh snapshots": (fresh_snapshots, ("/api/trending/stream",), ()),
    "no snapshot, live fallback": (no_snapshot_yet, ("/api/trending/stream", "/healthz"), ()),
    "snapshots disabled": (snapshots_disabled, ("/api/trending/stream",), (("KUKURI_METRICS_ENABLED", "0"),)),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_generated_requests_get_documented_answers_and_no_server_error(tmp_path: Path, state: str) -> None:
    prepare, excluded, env = STATES[state]
    db = tmp_path / "kukuri.db"
    await prepare(db)
    log = tmp_path / "api.log"
    with api_process(db, *env, log_file=log) as (url, _proc):
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", str(OPENAPI_PATH), "--url", url,
                "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", str(SECONDS_PER_STATE),
                "--workers", "2", "--seed", "7", "--no-color", "--generation-database", "none",
                *(option for path in excluded for option in ("--exclude-path", path)),
            ],
            # cwd: schemathesis leaves its working files (.schemathesis/) there.
            cwd=tmp_path, capture_output=True, text=True, timeout=SECONDS_PER_STATE + 120,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:] + log.read_text()[-2000:]
