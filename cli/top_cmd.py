"""`kukuri-trending top [--limit N] [--profile NAME] [--json]`: the current trending topics, as the read API
serves them."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from api.errors import ApiError
from api.queries import list_trending_topics
from cli.args import add_command, int_between
from cli.errors import DATABASE, require_database
from cli.snapshot_table import render_snapshot
from config.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "top", summary="print the current trending topics",
        description="Print the current trending topics from the app database, exactly as GET"
        " /api/trending/topics serves them (live fallback numbers when the snapshot is stale).",
        examples=["top", "top --limit 20 --json", "top --profile rising"],
    )
    parser.add_argument("--limit", type=int_between(1, 100), default=10, help="how many topics, 1..100 (10)")
    parser.add_argument("--profile", metavar="NAME",
                        help="rank by this computed score profile (the active one or a shadow); default: the active one")
    parser.add_argument("--json", action="store_true", help="the /api/trending/topics body as JSON")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    require_database(settings)
    try:
        result = await list_trending_topics(settings, args.limit, args.profile)
    except ApiError as exc:
        if exc.code == "unknown_profile":
            print(f"kukuri-trending top: error: --profile: {exc}", file=sys.stderr)
            return 2
        print(f"kukuri-trending top: error: {DATABASE}: {settings.database.path}: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(f"kukuri-trending top: error: {DATABASE}: {settings.database.path}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(render_snapshot(result.to_dict()))
    return 0
