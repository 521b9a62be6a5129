"""The one text rendering of a trending snapshot, shared by `top` and `watch`.

It takes the JSON body of GET /api/trending/topics (and of the feed's snapshot messages), so both
commands print the same table for the same snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

NAME_WIDTH = 24


def render_snapshot(body: Mapping[str, Any]) -> str:
    """A title line, a header line and one line per topic."""
    when = datetime.fromtimestamp(body["generated_at"] / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    topics = body["topics"]
    state = "STALE" if body["stale"] else "fresh"
    lines = [
        f"trending topics at {when}  source={body['data_source']}  {state}  topics={len(topics)}",
        f"{'#':>3}  {'topic':<{NAME_WIDTH}} {'score':>9} {'change':>8} {'24h':>6} {'6h':>5} {'authors':>7} {'boosts':>6}",
    ]
    for t in topics:
        name = (t["name"] or t["topic_id"])[:NAME_WIDTH]
        change = "new" if t["score_change"] is None else f"{t['score_change']:+.2f}"
        lines.append(
            f"{t['rank']:>3}  {name:<{NAME_WIDTH}} {t['trending_score']:>9.2f} {change:>8} {t['posts_24h']:>6}"
            f" {t['posts_6h']:>5} {t['unique_authors']:>7} {t['boosts']:>6}"
        )
    if not topics:
        lines.append("  (no trending topics yet)")
    return "\n".join(lines)
