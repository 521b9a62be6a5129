"""`kukuri-trending backfill [--minutes N] [--until T] [--apply] [--json]`: history from the app database.

Computes the snapshot of every boundary in the N minutes up to T (default: now) into
`topic_metrics_history` (source `backfill`); `--apply` also writes the latest one into
`topic_metrics`. A progress bar with counts and ETA goes to stderr when it is a terminal;
`--json` prints only a JSON summary. Exit 0 on success, 1 when the database could not be read or
written, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from cli.args import UsageError, add_command, epoch_ms_or_iso, int_between
from cli.errors import DATABASE
from cli.reconcile_cmd import iso
from config.settings import Settings
from reconcile.backfill import BackfillResult, backfill
from reconcile.errors import ReconcileError
from reconcile.progress import ProgressBar
from streams.windows import HOUR_MS

MAX_MINUTES = 30 * 24 * 60  # a typo of one zero too many should not start a week-long job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "backfill", summary="compute snapshot history for the last N minutes from the app database",
        description="Compute the snapshot of every boundary in the last N minutes from the app database into"
        " topic_metrics_history (source backfill). With --apply, the latest of them is also written into"
        " topic_metrics and recorded in trending_runs.",
        examples=["backfill --minutes 1440", "backfill --minutes 60 --apply --json"],
    )
    parser.add_argument("--minutes", type=int_between(1, MAX_MINUTES), default=1440, metavar="N",
                        help=f"how far back, in minutes (default 1440, at most {MAX_MINUTES})")
    parser.add_argument("--until", type=epoch_ms_or_iso, metavar="T",
                        help="last boundary: ISO-8601 or epoch ms, aligned down (default: now)")
    parser.add_argument("--apply", action="store_true", help="also write the latest snapshot into topic_metrics")
    parser.add_argument("--json", action="store_true", help="print a JSON summary only")
    parser.set_defaults(handler=run)


def _summary(result: BackfillResult, args: argparse.Namespace) -> dict[str, object]:
    return {
        "boundaries": len(result.boundaries),
        "first_window_end": result.boundaries[0],
        "last_window_end": result.boundaries[-1],
        "history_rows": result.history_rows,
        "latest_topics": result.latest_topics,
        "applied": result.applied is not None,
        "run_at": result.run_at,
        "duration_ms": result.duration_ms,
        "minutes": args.minutes,
    }


async def run(args: argparse.Namespace, settings: Settings) -> int:
    now = int(time.time() * 1000)
    if args.until is not None and args.until > now:
        raise UsageError("--until is in the future")
    if args.apply and args.until is not None and args.until <= now - settings.metrics.ttl_hours * HOUR_MS:
        raise UsageError(
            f"--apply with --until older than ttl_hours ({settings.metrics.ttl_hours}) would expire at once"
        )
    bar = ProgressBar("backfill") if ProgressBar.wanted(quiet=args.json) else None
    try:
        result = await backfill(settings, minutes=args.minutes, until=args.until, apply=args.apply, progress=bar)
    except ReconcileError as exc:
        print(f"kukuri-trending backfill: error: {exc}; check {DATABASE}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print(json.dumps(_summary(result, args)))
        return 0
    first, last = iso(result.boundaries[0]), iso(result.boundaries[-1])
    print(f"backfilled {len(result.boundaries)} boundaries, {first} .. {last}:"
          f" {result.history_rows} rows into topic_metrics_history (source=backfill) in {result.duration_ms} ms")
    if result.applied is not None:
        print(f"applied {iso(result.applied.window_end)} to topic_metrics: {result.applied.topics_upserted} topics")
    return 0
