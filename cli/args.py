"""Argument types shared by the subcommands; each raises a one-line argparse error on bad input."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime

DEFAULT_EXIT_CODES = "0 success, 1 failure (one line on stderr naming the problem and the setting), 2 bad usage"


class UsageError(Exception):
    """A bad argument value found after parsing; reported in one line with exit code 2."""


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    *,
    summary: str,
    description: str,
    examples: Sequence[str],
    exit_codes: str = DEFAULT_EXIT_CODES,
) -> argparse.ArgumentParser:
    """A subcommand parser whose `--help` has a description, the exit codes and examples."""
    lines = [f"exit codes: {exit_codes}", "", "examples:", *(f"  kukuri-trending {e}" for e in examples)]
    return subparsers.add_parser(  # type: ignore[no-any-return]
        name, help=summary, description=description, epilog="\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def epoch_ms_or_iso(text: str) -> int:
    """A time argument `T`: epoch milliseconds, or an ISO-8601 time (UTC unless it says otherwise).

    >>> epoch_ms_or_iso("1700000000000"), epoch_ms_or_iso("2023-11-14T22:13:20Z")
    (1700000000000, 1700000000000)
    """
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    try:
        moment = datetime.fromisoformat(stripped.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected epoch milliseconds or an ISO-8601 time, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def int_between(low: int, high: int | None = None):
    """An argparse type for an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value
