"""`kukuri-trending`: one entry point, one module per subcommand.

Each command module exposes `register(subparsers)`, which adds its parser (with `cli.args.add_command`)
and sets `handler=<async or sync function (args, settings) -> exit code>`. Exit codes: 0 success,
1 failure (one line on stderr naming the problem and the setting to change), 2 bad usage (one line
on stderr). A traceback is printed only with `--log-level debug`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import os
import socket
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from cli.args import UsageError
from cli.errors import describe
from config.settings import ConfigError, Settings, load_settings

COMMAND_MODULES = (
    "cli.run_cmd",
    "cli.worker_cmd",
    "cli.produce_cmd",
    "cli.materialize_cmd",
    "cli.reconcile_cmd",
    "cli.backfill_cmd",
    "cli.top_cmd",
    "cli.profiles_cmd",
    "cli.migrate_cmd",
    "cli.api_cmd",
    "cli.watch_cmd",
    "cli.bench_cmd",
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def package_version() -> str:
    try:
        return version("kukuri-trending")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The options every command takes, before or after its name.

    On the subcommand parsers they default to SUPPRESS, so they only override what was given
    before the subcommand when they are given again after it.
    """

    def default(value: str | None) -> str | None:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--config", metavar="PATH", default=default(None),
                        help="app.toml to use (default: KUKURI_CONFIG, else the packaged defaults)")
    parser.add_argument(
        "--log-format", choices=("auto", "json", "console"), default=default("auto"),
        help="log lines as JSON or for humans (auto: JSON unless a terminal is attached)",
    )
    parser.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS, default=default("INFO"),
        metavar="{debug,info,warning,error}",
        help="least severe log level shown, any case (info); debug also prints tracebacks of failures",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kukuri-trending", description="Trending topics for kukuri, computed from a stream.",
        epilog="Exit codes: 0 success, 1 failure, 2 bad usage. `kukuri-trending COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"kukuri-trending {package_version()}")
    _add_global_options(parser, defaults=True)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    for command in subparsers.choices.values():
        _add_global_options(command, defaults=False)
    return parser


LONG_RUNNING = frozenset({"run", "worker", "api"})


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.log_level == "DEBUG"
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"kukuri-trending: configuration error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    from observability.logs import setup_logging

    setup_logging(args.log_format, args.log_level)
    if args.command not in LONG_RUNNING and not debug:
        # A one-shot command reports a broker it cannot reach in its own one line; aiokafka's
        # connection errors would only repeat it.
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    if settings.alerts.sentry_dsn:
        from observability.error_reports import init_error_reports

        host = socket.gethostname()
        init_error_reports(settings.alerts.sentry_dsn, worker_id=f"{host}-{os.getpid()}", instance=host)
    try:
        result = args.handler(args, settings)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except UsageError as exc:
        print(f"kukuri-trending {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"kukuri-trending: configuration error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        return _report_failure(args.command, exc, settings, debug=debug)
    return int(result)


def _report_failure(command: str, exc: Exception, settings: Settings, *, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    line = describe(exc, settings)
    if settings.alerts.sentry_dsn:
        from observability.error_reports import report_crash

        report_crash(exc)
    if line is None:
        hint = "" if debug else " (rerun with --log-level debug for the traceback)"
        line = f"unexpected {type(exc).__name__}: {exc}{hint}"
    print(f"kukuri-trending {command}: error: {line}", file=sys.stderr)
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
