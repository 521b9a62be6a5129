"""`kukuri-trending top [--limit N] [--json]`: the current trending topics, as the read API serves them."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import UTC, datetime

from api.errors import ApiError
from api.models import TrendingTopics
from api.queries import list_trending_topics
from cli.args import int_between
from config.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("top", help="print the current trending topics")
    parser.add_argument("--limit", type=int_between(1, 100), default=10, help="how many topics, 1..100 (10)")
    parser.add_argument("--json", action="store_true", help="the /api/trending/topics body as JSON")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = await list_trending_topics(settings, args.limit)
    except (ApiError, sqlite3.Error) as exc:
        print(f"kukuri-trending top: {settings.database.path}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(render(result))
    return 0


def render(result: TrendingTopics) -> str:
    when = datetime.fromtimestamp(result.generated_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    state = "STALE " if result.stale else ""
    lines = [f"trending topics at {when} ({state}{result.data_source})"]
    header = f"{'#':>3}  {'topic':<24} {'score':>9} {'change':>8} {'posts 24h':>9} {'6h':>5} {'authors':>7} {'boosts':>6}"
    lines += [header, "-" * len(header)]
    for t in result.topics:
        change = "new" if t.score_change is None else f"{t.score_change:+.1f}"
        name = (t.name or t.topic_id)[:24]
        lines.append(f"{t.rank:>3}  {name:<24} {t.trending_score:>9.1f} {change:>8} {t.posts_24h:>9} "
                     f"{t.posts_6h:>5} {t.unique_authors:>7} {t.boosts:>6}")
    if not result.topics:
        lines.append("  (no trending topics yet)")
    return "\n".join(lines)
