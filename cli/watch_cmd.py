"""`kukuri-trending watch`: follow the live feed of a running API and print each new snapshot.

A short table per snapshot for people, or with `--json` the feed's messages exactly as received
(one JSON object per line) for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from cli.args import add_command, int_between
from cli.snapshot_table import render_snapshot
from config.settings import Settings

STREAM_PATH = "/api/trending/stream"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "watch", summary="print trending snapshots from a running API as they arrive",
        description="Follow the live feed (/api/trending/stream) of a running API and print each snapshot"
        " as a table, or with --json the feed's messages as received.",
        examples=["watch", "watch --url http://127.0.0.1:8081 --count 1 --json"],
        exit_codes="0 after --count snapshots, 1 cannot connect or the server closed the feed, 2 bad usage",
    )
    parser.add_argument("--url", help="API base URL or feed URL (default: http://<api.host>:<api.port>)")
    parser.add_argument("--limit", type=int_between(1, 100), default=10, help="topics per snapshot (1..100, 10)")
    parser.add_argument("--count", type=int_between(1), help="exit after N snapshots (default: until Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="print the feed's messages as raw JSON lines")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    url = feed_url(args.url or default_base_url(settings), args.limit)
    snapshots = 0
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, heartbeat=30.0)
        except (aiohttp.ClientError, OSError) as exc:
            print(f"kukuri-trending watch: cannot connect to {url}: {exc}", file=sys.stderr)
            return 1
        async with ws:
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                body = json.loads(message.data)
                if args.json:
                    print(message.data, flush=True)
                elif body.get("type") == "snapshot":
                    print_snapshot(body, sys.stdout)
                else:
                    error = body.get("error", {})
                    print(f"feed error: {error.get('code')}: {error.get('message')}", file=sys.stderr, flush=True)
                if body.get("type") == "snapshot":
                    snapshots += 1
                    if args.count is not None and snapshots >= args.count:
                        return 0
    print("kukuri-trending watch: the server closed the feed", file=sys.stderr)
    return 1


def default_base_url(settings: Settings) -> str:
    host = settings.api.host
    if host in ("0.0.0.0", "::"):  # a wildcard bind is reached through loopback
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.api.port}"


def feed_url(url: str, limit: int) -> str:
    """The feed's ws:// URL from a base or feed URL, http(s) or ws(s)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith(STREAM_PATH):
        path += STREAM_PATH
    return urlunsplit((scheme, parts.netloc, path, f"limit={limit}", ""))


def print_snapshot(body: dict[str, Any], out: TextIO) -> None:
    out.write(f"\n{render_snapshot(body)}\n")
    out.flush()
