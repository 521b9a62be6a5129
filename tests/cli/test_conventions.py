"""Command-line conventions: --version, global options on either side of the command, help texts
with exit codes and working examples, one table renderer for `top` and `watch`, `bench --json`."""

from __future__ import annotations

import argparse
import io
import json
import shlex
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from cli import top_cmd, watch_cmd
from cli.bench_cmd import parse_output
from cli.broker_address import tuned_for_broker
from cli.main import build_parser
from cli.snapshot_table import render_snapshot
from config.settings import DatabaseSettings, KafkaSettings, Settings
from streams.events import Event
from tests.fixtures.app_db import build_app_db

REPO = Path(__file__).resolve().parents[2]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.integration
def test_version_prints_the_installed_version() -> None:
    done = subprocess.run([sys.executable, "-m", "cli.main", "--version"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"kukuri-trending {version('kukuri-trending')}"


@pytest.mark.parametrize("argv", [
    ["--config", "a.toml", "--log-format", "json", "--log-level", "debug", "top", "--limit", "3"],
    ["top", "--limit", "3", "--config", "a.toml", "--log-format", "json", "--log-level", "debug"],
    ["--log-level", "info", "top", "--log-level", "DeBuG", "--config", "a.toml", "--log-format", "json", "--limit", "3"],
])
def test_global_options_are_accepted_before_or_after_the_command(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.command, args.limit, args.config, args.log_format, args.log_level) == (
        "top", 3, "a.toml", "json", "DEBUG")


def test_defaults_of_the_global_options_survive_the_subcommand() -> None:
    args = build_parser().parse_args(["--log-level", "warning", "migrate"])
    assert (args.config, args.log_format, args.log_level) == (None, "auto", "WARNING")


def test_an_unknown_log_level_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["top", "--log-level", "loud"])
    assert exit_.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_help_has_a_description_exit_codes_and_working_examples(name: str) -> None:
    parser = subcommands()[name]
    text = parser.format_help()
    assert parser.description and len(parser.description) > 40
    assert "exit codes: 0 " in text and "1 " in text and "2 bad usage" in text
    examples = [line.strip() for line in text.split("examples:", 1)[1].splitlines() if line.strip()]
    assert examples
    for example in examples:
        argv = shlex.split(example)
        assert argv[0] == "kukuri-trending"
        assert build_parser().parse_args(argv[1:]).command == name, example


@pytest.mark.integration
async def test_top_and_watch_print_the_same_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = int(time.time() * 1000) - 20 * 60_000  # inside the windows of the current boundary
    facts = [Event("p1", "post", "t1", "alice", before), Event("p2", "post", "t2", "bob", before),
             Event("r1", "reply", "t1", "bob", before, target_id="p1")]
    db = await build_app_db(tmp_path / "app.db", facts, topics=["t1", "t2"])
    settings = Settings(database=DatabaseSettings(path=db))

    assert await top_cmd.run(argparse.Namespace(limit=10, json=True, profile=None), settings) == 0
    body = json.loads(capsys.readouterr().out)
    assert await top_cmd.run(argparse.Namespace(limit=10, json=False, profile=None), settings) == 0
    table = capsys.readouterr().out
    watched = io.StringIO()
    watch_cmd.print_snapshot({"type": "snapshot", **body}, watched)

    assert table == render_snapshot(body) + "\n"
    assert watched.getvalue() == "\n" + table
    assert [line.split()[:3] for line in table.splitlines()[2:]] == [["1", "name", "t1"], ["2", "name", "t2"]]


def test_bench_json_turns_tables_into_rows() -> None:
    output = "seed 1; Python 3.11\n\n| active topics | total (ms) |\n|---:|---:|\n| 1,000 | 12 |\n| 5,000 | 48 |\n"
    assert parse_output(output) == {
        "notes": ["seed 1; Python 3.11"],
        "tables": [[{"active topics": "1,000", "total (ms)": "12"}, {"active topics": "5,000", "total (ms)": "48"}]],
    }
    assert "--json" in subcommands()["bench"].format_help()


def test_only_the_embedded_broker_gets_short_group_timeouts() -> None:
    embedded = tuned_for_broker(Settings())
    assert (embedded.kafka.session_timeout_seconds, embedded.kafka.heartbeat_interval_seconds) == (3.0, 1.0)
    external = Settings(kafka=KafkaSettings(broker="kafka://k:9092"))
    assert tuned_for_broker(external) is external
