"""`kukuri-trending profiles compare [--at T] [--json]`: each shadow score profile against the active one."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from api.errors import ApiError
from api.models import ProfileComparisons
from api.queries import compare_profiles
from cli.args import add_command, epoch_ms_or_iso
from cli.errors import DATABASE, require_database
from config.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "profiles", summary="compare the shadow score profiles with the active one",
        description="compare: for the newest snapshot (or the newest at or before --at T), each shadow profile"
        " (metrics.shadow_profiles) against the active one: overlap of the top 10 and top 50, Kendall's tau-b"
        " over the union of the two top-50 lists, and the topics that would enter and leave the top 10 on a"
        " switch. The same numbers as GET /api/trending/profiles/compare (docs/scoring.md).",
        examples=["profiles compare", "profiles compare --at 2025-11-10T09:05:00Z --json"],
    )
    parser.add_argument("action", choices=["compare"], help="what to do: compare")
    parser.add_argument("--at", type=epoch_ms_or_iso, metavar="T",
                        help="compare the newest snapshot at or before T (epoch ms or ISO-8601); default: the newest")
    parser.add_argument("--json", action="store_true", help="the /api/trending/profiles/compare body as JSON")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    require_database(settings)
    try:
        result = await compare_profiles(settings, args.at)
    except (ApiError, sqlite3.Error) as exc:
        print(f"kukuri-trending profiles: error: {DATABASE}: {settings.database.path}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict()) if args.json else render_comparisons(result))
    return 0


def render_comparisons(result: ProfileComparisons) -> str:
    """A table, one line per shadow profile."""
    lines = [f"snapshot {result.window_end}  active: {result.active.name} ({result.active.fingerprint or '-'})"]
    if not result.profiles:
        lines.append("no shadow profile was stored with this snapshot (see metrics.shadow_profiles)")
        return "\n".join(lines)
    width = max(len("profile"), *(len(p.profile) for p in result.profiles))
    lines.append(f"{'profile':<{width}}  fingerprint       top10  top50    tau  entering top 10 / leaving top 10")
    for p in result.profiles:
        moves = f"+{','.join(p.entering_top10) or '-'} / -{','.join(p.leaving_top10) or '-'}"
        lines.append(f"{p.profile:<{width}}  {p.fingerprint:<16}  {_number(p.overlap_top10)}  "
                     f"{_number(p.overlap_top50)}  {_number(p.kendall_tau)}  {moves}")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.2f}"
