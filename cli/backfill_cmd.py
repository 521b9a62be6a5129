"""`kukuri-trending backfill [--minutes N] [--until T] [--apply | --compare] [--json]`: history from the app database.

Computes the snapshot of every boundary in the N minutes up to T (default: now) into
`topic_metrics_history` (source `backfill`), then deletes history older than
`metrics.history_ttl_hours`; `--apply` also writes the latest one into `topic_metrics`. A progress
bar with counts and ETA goes to stderr when it is a terminal; `--json` prints only a JSON summary.
`--compare` writes nothing: per boundary of the span, it reports how the history differs from
`topic_metrics`. Exit 0 on success (also a comparison that found differences: the report is the
result, as for `reconcile --dry-run`), 1 when the database could not be read or written, 2 on bad
usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cli.args import UsageError, add_command, epoch_ms_or_iso, int_between
from cli.errors import DATABASE
from cli.reconcile_cmd import iso
from config.settings import Settings
from reconcile.backfill import BackfillResult, backfill, backfill_boundaries, compare
from reconcile.compare import BoundaryComparison, comparison_to_json, format_comparison
from reconcile.errors import ReconcileError
from reconcile.progress import ProgressBar
from streams.windows import HOUR_MS

MAX_MINUTES = 30 * 24 * 60  # a typo of one zero too many should not start a week-long job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "backfill", summary="compute snapshot history for the last N minutes from the app database",
        description="Compute the snapshot of every boundary in the last N minutes from the app database into"
        " topic_metrics_history (source backfill); history older than metrics.history_ttl_hours is then deleted."
        " With --apply, the latest of them is also written into topic_metrics and recorded in trending_runs."
        " With --compare, nothing is computed or written: for each boundary of the last N minutes, show the"
        " topics only the history has, the topics only topic_metrics has, and the columns that differ.",
        examples=["backfill --minutes 1440", "backfill --minutes 60 --apply --json", "backfill --compare --minutes 60",
                  "backfill --compare --json"],
        exit_codes="0 success (also a --compare that found differences: the report is the result, read"
        " `agrees` in --json), 1 failure, 2 bad usage",
    )
    parser.add_argument("--minutes", type=int_between(1, MAX_MINUTES), default=1440, metavar="N",
                        help=f"how far back, in minutes (default 1440, at most {MAX_MINUTES})")
    parser.add_argument("--until", type=epoch_ms_or_iso, metavar="T",
                        help="last boundary: ISO-8601 or epoch ms, aligned down (default: now)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--apply", action="store_true", help="also write the latest snapshot into topic_metrics")
    action.add_argument("--compare", action="store_true",
                        help="write nothing; show how the history (source backfill) differs from topic_metrics")
    parser.add_argument("--json", action="store_true", help="print only JSON: the summary, or the comparison")
    parser.set_defaults(handler=run)


def _summary(result: BackfillResult, args: argparse.Namespace) -> dict[str, object]:
    return {
        "boundaries": len(result.boundaries),
        "first_window_end": result.boundaries[0],
        "last_window_end": result.boundaries[-1],
        "history_rows": result.history_rows,
        "expired_history": result.expired_history,
        "latest_topics": result.latest_topics,
        "applied": result.applied is not None,
        "run_at": result.run_at,
        "duration_ms": result.duration_ms,
        "minutes": args.minutes,
    }


def _span(args: argparse.Namespace, settings: Settings, now: int) -> list[int]:
    """The boundaries of the last N minutes up to T (the backfill's own computation of them)."""
    return backfill_boundaries(now if args.until is None else args.until, args.minutes, settings.interval_ms)


def _check(args: argparse.Namespace, settings: Settings, now: int) -> None:
    if args.until is not None and args.until > now:
        raise UsageError("--until is in the future")
    if args.apply and args.until is not None and args.until <= now - settings.metrics.ttl_hours * HOUR_MS:
        raise UsageError(
            f"--apply with --until older than ttl_hours ({settings.metrics.ttl_hours}) would expire at once"
        )
    history_ttl = settings.metrics.history_ttl_hours
    if not args.compare and history_ttl and _span(args, settings, now)[0] < now - history_ttl * HOUR_MS:
        raise UsageError(
            f"--minutes/--until reach back past history_ttl_hours ({history_ttl}): the oldest boundaries"
            " would expire at once (shorten the span or raise metrics.history_ttl_hours)"
        )


def _print_backfill(result: BackfillResult, settings: Settings) -> None:
    first, last = iso(result.boundaries[0]), iso(result.boundaries[-1])
    print(f"backfilled {len(result.boundaries)} boundaries, {first} .. {last}:"
          f" {result.history_rows} rows into topic_metrics_history (source=backfill) in {result.duration_ms} ms;"
          f" {result.expired_history} history rows older than {settings.metrics.history_ttl_hours} h expired")
    if result.applied is not None:
        print(f"applied {iso(result.applied.window_end)} to topic_metrics: {result.applied.topics_upserted} topics")


async def _backfill(args: argparse.Namespace, settings: Settings) -> None:
    bar = ProgressBar("backfill") if ProgressBar.wanted(quiet=args.json) else None
    try:
        result = await backfill(settings, minutes=args.minutes, until=args.until, apply=args.apply, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(_summary(result, args)))
    else:
        _print_backfill(result, settings)


def _compare_json(boundaries: list[int], found: list[BoundaryComparison], minutes: int) -> dict[str, Any]:
    return {
        "minutes": minutes,
        "boundaries": len(boundaries),
        "first_window_end": boundaries[0],
        "last_window_end": boundaries[-1],
        "agrees": all(c.agrees for c in found),
        "boundaries_compared": len(found),
        "boundaries_differing": sum(not c.agrees for c in found),
        "results": [comparison_to_json(c) for c in found],
    }


def _print_compare(boundaries: list[int], found: list[BoundaryComparison]) -> None:
    differing = sum(not c.agrees for c in found)
    print(f"compared {len(boundaries)} boundaries, {iso(boundaries[0])} .. {iso(boundaries[-1])}:"
          f" topic_metrics_history (source=backfill) and topic_metrics agree on {len(found) - differing},"
          f" differ on {differing}; {len(boundaries) - len(found)} have rows on neither side")
    for c in found:
        verdict = "agree" if c.agrees else (
            f"{len(c.only_in_history)} only in history, {len(c.only_in_metrics)} only in topic_metrics,"
            f" {len(c.changed)} changed (history -> topic_metrics)")
        print(f"{iso(c.boundary)} ({c.boundary}): {c.history_topics} topics in history,"
              f" {c.metrics_topics} in topic_metrics: {verdict}")
        for line in format_comparison(c):
            print(line)


async def _compare(args: argparse.Namespace, settings: Settings, now: int) -> None:
    boundaries = _span(args, settings, now)
    found = await compare(settings, boundaries)
    if args.json:
        print(json.dumps(_compare_json(boundaries, found, args.minutes)))
    else:
        _print_compare(boundaries, found)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    now = int(time.time() * 1000)
    _check(args, settings, now)
    try:
        if args.compare:
            await _compare(args, settings, now)
        else:
            await _backfill(args, settings)
    except ReconcileError as exc:
        print(f"kukuri-trending backfill: error: {exc}; check {DATABASE}", file=sys.stderr)
        return 1
    return 0
