#!/usr/bin/env bash
# The suite runs the fold compiled (setup.py); this runs its pure-logic tests once more on the same
# source interpreted, from a copy of the tree without the compiled modules, so both builds stay
# correct. Usage: scripts/test-interpreted-fold.sh PYTHON
set -euo pipefail
python="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"  # absolute, not resolved: it is the venv's
cd "$(dirname "$0")/.."
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$copy"
cd "$copy"
"$python" -c 'from observability.fold_build import fold_build; b = fold_build(); assert not b.compiled and not b.stale, b'
"$python" -m pytest -q -p no:cacheprovider tests/streams tests/agents/test_batch_fold.py tests/agents/test_ingest_batches.py
