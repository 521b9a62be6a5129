"""`kukuri-trending profiles compare` and `top --profile` as subprocesses over a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.support import boundary, create_db
from tests.api.test_profiles import TOPICS, commit, write_config

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "--config", str(config), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=60, env={"PATH": "/usr/bin:/bin"})


async def test_profiles_compare_and_top_by_profile(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "default", ["boosty", "strict"])
    assert settings.source is not None
    await create_db(settings.database.path, TOPICS)
    older, e = boundary(5), boundary()
    await commit(settings, older)

    compared = cli(settings.source, "profiles", "compare", "--json")
    assert compared.returncode == 0, compared.stderr
    body = json.loads(compared.stdout)
    assert body["window_end"] == older and [p["profile"] for p in body["profiles"]] == ["boosty", "strict"]
    assert body["profiles"][1]["leaving_top10"] == ["small"]

    await commit(settings, e)
    table = cli(settings.source, "profiles", "compare", "--at", str(e - 1))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"snapshot {older}  active: default (")
    assert lines[2].split()[:2] == ["boosty", settings.metrics.profiles.defined["boosty"].fingerprint]
    assert lines[3].endswith("+- / -small")

    top = cli(settings.source, "top", "--profile", "boosty", "--json")
    assert top.returncode == 0, top.stderr
    assert [t["topic_id"] for t in json.loads(top.stdout)["topics"]] == ["boosted", "busy", "quiet", "small"]

    unknown = cli(settings.source, "top", "--profile", "nope")
    assert unknown.returncode == 2 and "unknown_profile" not in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and "'nope' is not computed" in unknown.stderr
    assert cli(settings.source, "profiles", "list").returncode == 2


async def test_profiles_compare_without_a_snapshot_fails_with_one_line(tmp_path: Path) -> None:
    settings = write_config(tmp_path, "default", ["boosty"])
    assert settings.source is not None
    await create_db(settings.database.path)
    done = cli(settings.source, "profiles", "compare")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "no trending snapshot" in done.stderr
