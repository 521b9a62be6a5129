"""`kukuri-trending`: one entry point, one module per subcommand (CONTRACT section 5).

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler=<async or sync function (args, settings) -> exit code>`. Exit codes: 0 success,
1 failure, 2 bad usage (a one-line message on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence
from typing import NoReturn

from cli.args import UsageError
from config.settings import ConfigError, load_settings

COMMAND_MODULES = (
    "cli.run_cmd",
    "cli.worker_cmd",
    "cli.produce_cmd",
    "cli.materialize_cmd",
    "cli.reconcile_cmd",
    "cli.backfill_cmd",
    "cli.top_cmd",
    "cli.migrate_cmd",
    "cli.api_cmd",
    "cli.watch_cmd",
    "cli.bench_cmd",
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kukuri-trending", description="Trending topics for kukuri, computed from a stream.")
    parser.add_argument("--config", metavar="PATH", help="app.toml to use (default: KUKURI_CONFIG or built-in)")
    parser.add_argument(
        "--log-format", choices=("auto", "json", "console"), default="auto",
        help="log lines as JSON or for humans (auto: JSON unless a terminal is attached)",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"kukuri-trending: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from observability.logs import setup_logging

    setup_logging(args.log_format, args.log_level)
    try:
        result = args.handler(args, settings)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except UsageError as exc:
        print(f"kukuri-trending {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"kukuri-trending: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return int(result)



if __name__ == "__main__":
    sys.exit(main())
