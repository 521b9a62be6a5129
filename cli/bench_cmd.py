"""`kukuri-trending bench`: run the benchmarks, each in its own process, and print their tables.

Numbers go to docs/benchmarks.md by hand, with this command line; tests never assert timings.
`--json` prints one document instead: per benchmark its exit code, its comment lines and the rows
of its Markdown tables, for scripts that compare runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from cli.args import add_command
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
    parser = add_command(
        subparsers, "bench", summary="run the benchmarks and print tables of measured numbers",
        description="Run each benchmark in its own process and print its table; with --json, one JSON"
        " document with every table's rows instead.",
        examples=["bench", "bench --only ingest --json"],
        exit_codes="0 every benchmark ran, 1 one failed, 2 bad usage",
    )
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append",
                        help="run just this benchmark (repeatable); default: all but soak")
    parser.add_argument("--json", action="store_true", help="one JSON document with every table's rows")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    failed = []
    results = []
    for name in args.only or [n for n in BENCHMARKS if n not in ON_REQUEST_ONLY]:
        command = [sys.executable, "-m", BENCHMARKS[name]]
        if args.json:
            captured = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True)
            results.append({"name": name, "exit_code": captured.returncode, **parse_output(captured.stdout)})
            code = captured.returncode
        else:
            print(f"\n## {name}\n", flush=True)
            code = subprocess.run(command, check=False).returncode
        if code != 0:
            failed.append(name)
    if args.json:
        print(json.dumps({"benchmarks": results}, indent=2))
    if failed:
        print(f"kukuri-trending bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def parse_output(text: str) -> dict[str, Any]:
    """A benchmark's stdout as `notes` (lines outside tables) and `tables` (rows keyed by column).

    >>> parse_output("seed 1\\n| path | events/s |\\n|---|---:|\\n| raw | 26,000 |\\n")
    {'notes': ['seed 1'], 'tables': [[{'path': 'raw', 'events/s': '26,000'}]]}
    """
    notes: list[str] = []
    tables: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            if line.strip():
                notes.append(line.strip())
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            tables.append([])
        elif not all(set(cell) <= set("-:") for cell in cells):
            tables[-1].append(dict(zip(header, cells, strict=False)))
    return {"notes": notes, "tables": tables}
