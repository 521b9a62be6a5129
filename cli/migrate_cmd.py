"""`kukuri-trending migrate`: apply the numbered schema migrations to the app database."""

from __future__ import annotations

import argparse
import json

from cli.args import add_command
from cli.errors import check_database_location
from config.settings import Settings
from sinks.migrate import migrate


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = add_command(
        subparsers, "migrate", summary="apply pending schema migrations to the database (creates it if missing)",
        description="Apply the numbered schema migrations to the app database (database.path), creating the"
        " file if it does not exist. Only `migrate` and `run` create the database; every other command"
        " fails on a missing one, so a mistyped path cannot go unnoticed.",
        examples=["migrate", "migrate --json"],
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, settings: Settings) -> int:
    check_database_location(settings)
    applied = await migrate(settings.database.path)
    if args.json:
        print(json.dumps({"database": str(settings.database.path), "applied": [m.version for m in applied]}))
    elif applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print(f"{settings.database.path}: schema is up to date")
    return 0
