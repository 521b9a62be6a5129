"""Reconciliation and backfill: recompute snapshots from the app database, find drift and gaps, repair.

The stream is fast but can miss or double-count facts (a crash between sink and commit, a fact the
app wrote late, a broker that lost history). kukuri's own tables are the source of truth, so these
jobs recompute snapshots from them with the same metric definitions (`appdb.recompute`, `streams.metrics`), compare
them with what is stored (`reconcile.diff`, pure), and rewrite what differs:

- `reconcile.runner`: one boundary (`reconcile_boundary`, and `reconcile_latest` for the worker);
- `reconcile.gaps`: every boundary within the TTL that has no `trending_runs` row;
- `reconcile.backfill`: history for a new deployment (`topic_metrics_history`, source `backfill`).
"""
