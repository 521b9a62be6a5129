"""`kukuri-trending reconcile [--at T] [--dry-run] [--json] [--gaps]`: compare with the app database, repair.

Without `--gaps`: recompute boundary E (default: the latest), print what differs from the stored
snapshot and, unless `--dry-run`, rewrite it. `--at T` not on an interval boundary is aligned down
to one, with a note on stderr. With `--gaps`: fill every boundary within the TTL that has no run.
Exit 0 when clean or repaired (also for a dry run that found differences: the report is the
result), 1 when the database could not be read or written, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from cli.args import UsageError, add_command, epoch_ms_or_iso
from cli.errors import DATABASE
from config.settings import Settings
from reconcile.diff import diff_to_json, format_diff
from reconcile.errors import ReconcileError
from reconcile.gaps import GapsResult, fill_gaps
from reconcile.progress import ProgressBar
from reconcile.runner import ReconcileResult, reconcile_boundary
from streams.windows import HOUR_MS, align_down


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "reconcile", summary="recompute snapshots from the app database, show differences and repair them",
        description="Recompute snapshots from the app database, show what differs from the stored ones,"
        " and repair them. With --gaps, fill every boundary within ttl_hours that has no recorded run.",
        examples=["reconcile --dry-run", "reconcile --at 2025-11-10T09:05:00Z", "reconcile --gaps --json"],
        exit_codes="0 clean or repaired (also a dry run that found differences), 1 failure, 2 bad usage",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--at", metavar="T", type=epoch_ms_or_iso,
                       help="boundary to reconcile: ISO-8601 or epoch ms, aligned down (default: the latest)")
    which.add_argument("--gaps", action="store_true",
                       help="fill every boundary within ttl_hours that has no trending_runs row")
    parser.add_argument("--dry-run", action="store_true", help="report differences, write nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.set_defaults(handler=run)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _boundary(args: argparse.Namespace, settings: Settings, now: int) -> int:
    requested = now if args.at is None else args.at
    boundary = align_down(requested, settings.interval_ms)
    if boundary > now:
        raise UsageError(f"--at {iso(requested)} is in the future; its snapshot does not exist yet")
    if not args.dry_run and boundary <= now - settings.metrics.ttl_hours * HOUR_MS:
        raise UsageError(
            f"--at {iso(requested)} is older than ttl_hours ({settings.metrics.ttl_hours}); a repair would expire"
            " at once (use --dry-run to only compare)"
        )
    if args.at is not None and boundary != args.at and not args.json:
        print(f"note: --at {args.at} is not on a {settings.metrics.interval_minutes}-minute boundary;"
              f" reconciling {iso(boundary)} ({boundary})", file=sys.stderr)
    return boundary


def _verdict(result: ReconcileResult) -> str:
    if result.diff.clean and result.run is None:
        return "clean"
    if result.dry_run:
        return "would repair" if not result.diff.clean else "clean, but no run recorded (would record one)"
    return "repaired" if result.repaired else "written (no run was recorded)"


def _result_json(result: ReconcileResult, *, rows: bool = True) -> dict[str, Any]:
    return {
        "window_end": result.boundary,
        "window_end_iso": iso(result.boundary),
        "dry_run": result.dry_run,
        "verdict": _verdict(result),
        "previous_source": result.previous_source,
        "written": result.run is not None,
        "expired_records": None if result.run is None else result.run.expired_records,
        "duration_ms": result.duration_ms,
        **diff_to_json(result.diff, rows=rows),
    }


def _print_result(result: ReconcileResult) -> None:
    d = result.diff
    print(f"{iso(result.boundary)} ({result.boundary}): {d.recomputed} topics recomputed, {d.stored} stored;"
          f" {d.count('missing')} missing, {d.count('extra')} extra, {d.count('changed')} changed,"
          f" {len(d.window_rows)} extra-window rows differ: {_verdict(result)}")
    for line in format_diff(d):
        print(line)


def _print_gaps(gaps: GapsResult, settings: Settings, dry_run: bool) -> None:
    action = "would fill" if dry_run else "filled"
    print(f"{len(gaps.gaps)} of {gaps.ttl_boundaries} boundaries within the last {settings.metrics.ttl_hours} h"
          f" have no recorded run; {action} {len(gaps.results)}")
    for result in gaps.results:
        print(f"  {iso(result.boundary)} ({result.boundary}): {result.diff.recomputed} topics")


async def _gaps(args: argparse.Namespace, settings: Settings, now: int) -> None:
    bar = ProgressBar("reconcile --gaps") if ProgressBar.wanted(quiet=args.json) else None
    try:
        gaps = await fill_gaps(settings, dry_run=args.dry_run, now=now, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not args.json:
        _print_gaps(gaps, settings, args.dry_run)
        return
    print(json.dumps({
        "dry_run": args.dry_run, "ttl_hours": settings.metrics.ttl_hours,
        "boundaries_checked": gaps.ttl_boundaries, "gaps": gaps.gaps,
        # Counts only: a gap's rows are usually all missing, and listing them would print every
        # row of every gap.
        "results": [_result_json(r, rows=False) for r in gaps.results],
    }))


async def _one(args: argparse.Namespace, settings: Settings, now: int) -> None:
    result = await reconcile_boundary(settings, _boundary(args, settings, now), dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"requested_at": args.at, **_result_json(result)}))
    else:
        _print_result(result)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    now = int(time.time() * 1000)
    try:
        await (_gaps if args.gaps else _one)(args, settings, now)
    except ReconcileError as exc:
        print(f"kukuri-trending reconcile: error: {exc}; check {DATABASE}", file=sys.stderr)
        return 1
    return 0
