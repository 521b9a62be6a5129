"""An independent, brute-force statement of the metric definitions (docs/metrics.md), for checking the real code.

Deliberately written from the definitions' words, not from streams.metrics or the SQL: it walks the
whole fact list for every topic and window.
"""

from __future__ import annotations

from collections.abc import Iterable

from streams.events import Event

HOUR = 3_600_000


def live_facts(events: Iterable[Event]) -> list[Event]:
    """Deduplicate by (topic_id, event_id) and drop every fact a delete in the same topic names."""
    unique: dict[tuple[str, str], Event] = {}
    for e in events:
        unique.setdefault((e.topic_id, e.event_id), e)
    deleted = {(e.topic_id, e.target_id) for e in unique.values() if e.kind == "delete"}
    return [e for e in unique.values() if e.kind != "delete" and (e.topic_id, e.event_id) not in deleted]


def expected_rows(
    events: Iterable[Event], boundary: int, weights: tuple[float, float, float] = (0.6, 0.3, 0.1)
) -> dict[str, dict[str, float | int]]:
    """topic_id -> every topic_metrics column except updated_at, for boundary E."""
    facts = live_facts(events)
    wp, wu, wb = weights
    rows: dict[str, dict[str, float | int]] = {}
    for topic in sorted({e.topic_id for e in facts}):
        def window(start: int, end: int, topic: str = topic) -> list[Event]:
            return [e for e in facts if e.topic_id == topic and start <= e.created_at < end]

        w24 = window(boundary - 24 * HOUR, boundary)
        if not w24:
            continue
        w6 = window(boundary - 6 * HOUR, boundary)
        prev = window(boundary - 48 * HOUR, boundary - 24 * HOUR)

        def posts(es: list[Event]) -> int:
            return sum(1 for e in es if e.kind in ("post", "reply"))

        def count(es: list[Event], kind: str) -> int:
            return sum(1 for e in es if e.kind == kind)

        def authors(es: list[Event]) -> int:
            return len({e.author for e in es if e.kind in ("post", "reply")})

        def participants(es: list[Event]) -> int:
            return len({e.author for e in es})

        rows[topic] = {
            "topic_id": topic,
            "window_start": boundary - 24 * HOUR,
            "window_end": boundary,
            "posts_24h": posts(w24),
            "posts_6h": posts(w6),
            "unique_authors": authors(w24),
            "boosts": count(w24, "boost"),
            "replies": count(w24, "reply"),
            "bookmarks": count(w24, "bookmark"),
            "participant_delta": participants(w24) - participants(prev),
            "score_24h": posts(w24) * wp + authors(w24) * wu + count(w24, "boost") * wb,
            "score_6h": posts(w6) * wp + authors(w6) * wu + count(w6, "boost") * wb,
            "unique_authors_6h": authors(w6),
            "boosts_6h": count(w6, "boost"),
            "replies_6h": count(w6, "reply"),
            "bookmarks_6h": count(w6, "bookmark"),
            "participants_24h": participants(w24),
        }
    return rows
