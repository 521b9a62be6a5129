"""Prometheus counters of the reconciliation job (default registry, `kukuri_trending_` prefix).

prometheus_client appends `_total` to a counter's family name, so the exposed samples are
`kukuri_trending_reconcile_runs_total` and so on. Dry runs count as runs but never as repairs.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

RUNS: Final = Counter(
    "kukuri_trending_reconcile_runs",
    "Boundaries reconciled against the app database (dry runs and gap fills included)",
)
FAILURES: Final = Counter(
    "kukuri_trending_reconcile_failures",
    "Reconciliations that failed: the app database could not be read or the repair not written",
)
TOPICS_REPAIRED: Final = Counter(
    "kukuri_trending_reconcile_topics_repaired",
    "Topics whose stored rows a repair added, removed or corrected",
)
CELLS_CHANGED: Final = Counter(
    "kukuri_trending_reconcile_cells_changed",
    "Column values a repair changed; every column of an added or removed row counts",
)
