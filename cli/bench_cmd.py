"""`kukuri-trending bench`: run the benchmarks, each in its own process, and print their tables.

Numbers go to docs/benchmarks.md by hand, with this command line; tests never assert timings.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from config.settings import Settings

BENCHMARKS = {
    "ingest": "bench.ingest_bench",
    "snapshot": "bench.snapshot_bench",
    "reconcile": "bench.reconcile_bench",
    "api": "bench.api_bench",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks and print tables of measured numbers")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append",
                        help="run just this benchmark (repeatable); default: all")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    failed = []
    for name in args.only or list(BENCHMARKS):
        print(f"\n## {name}\n", flush=True)
        if subprocess.run([sys.executable, "-m", BENCHMARKS[name]], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"kukuri-trending bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
