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
    "soak": "bench.soak_bench",
}
# The soak drives three days of event time through the state and the sink (half an hour at 20,000
# topics, hours at its default 100,000): it runs only when asked for by name.
ON_REQUEST_ONLY = frozenset({"soak"})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks and print tables of measured numbers")
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append",
                        help="run just this benchmark (repeatable); default: all but soak")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    failed = []
    for name in args.only or [n for n in BENCHMARKS if n not in ON_REQUEST_ONLY]:
        print(f"\n## {name}\n", flush=True)
        if subprocess.run([sys.executable, "-m", BENCHMARKS[name]], check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"kukuri-trending bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
