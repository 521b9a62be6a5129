"""The real API process under schemathesis: generated requests, valid and invalid, against the
OpenAPI document. No answer may be a 5xx, and every answer must be one the document describes.

Bounded (`--max-examples`, `--max-time`) so it fits a CI run on two cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from streams.events import Event
from tests.api.support import OPENAPI_PATH, add_facts, api_process, boundary, commit, create_db, row

pytestmark = pytest.mark.integration

MAX_EXAMPLES = int(os.environ.get("KUKURI_SCHEMATHESIS_EXAMPLES", "60"))
CHECKS = ",".join((
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "unsupported_method",
))


async def populated_db(path: Path) -> Path:
    """Two snapshots (so score changes exist), topic rows and a few posts with engagement."""
    e = boundary()
    topics = ["rust", "nostr", "kukuri"]
    await create_db(path, topics)
    await commit(path, e - 300_000, [row(t, e - 300_000, 1.0 + i) for i, t in enumerate(topics)])
    await commit(path, e, [row(t, e, 0.1 + 0.2 * (i + 1), posts_24h=2) for i, t in enumerate(topics)])
    await add_facts(path, [
        Event("p1", "post", "rust", "alice", e - 60_000),
        Event("p2", "post", "nostr", "bob", e - 120_000),
        Event("r1", "reply", "rust", "carol", e - 30_000, target_id="p1"),
        Event("b1", "boost", "rust", "dave", e - 20_000, target_id="p1"),
    ])
    return path


async def test_generated_requests_get_documented_answers_and_no_server_error(tmp_path: Path) -> None:
    db = await populated_db(tmp_path / "kukuri.db")
    with api_process(db) as (url, _proc):
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", str(OPENAPI_PATH), "--url", url,
                "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--max-time", "60",
                "--workers", "2", "--seed", "7", "--no-color", "--generation-database", "none",
                # A WebSocket endpoint: a plain GET is refused (400), so "valid requests" cannot succeed.
                "--exclude-path", "/api/trending/stream",
            ],
            # cwd: schemathesis leaves its working files (.schemathesis/) there.
            cwd=tmp_path, capture_output=True, text=True, timeout=280,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
