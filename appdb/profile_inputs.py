"""Score-profile inputs recomputed from the app database (for the reconciliation and the live fallback).

The SQL returns, per window, topic and author, the live posts and replies, the live boosts and how
many of those are self-boosts; Python adds them to the stream's own window tallies
(`streams.sliding.Tally.add_author`) and reads them with `Tally.inputs`, the code that applies caps
and leaves out self-boosts for the stream, so the batch and the stream cannot disagree on a cap.
Facts are read through the one mapping of kukuri's rows to facts (`appdb.facts`): the same posts,
boosts and topics as the reconciliation.

The self-boost rule of `streams.scoring.is_self_boost`, in the app's terms: the boost's target
(its first `e` tag) is a kind-1 event (a post or reply, deleted or not) by the booster, created no
earlier than `SELF_BOOST_HORIZON_MS` before the boost. A boost's topics are its target's topics, so
"of the same topic" holds by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from appdb.facts import topic_facts_cte
from sinks.database import connect_reader
from streams.scoring import NO_INPUTS, SELF_BOOST_HORIZON_MS, Need, ScoreInputs, ScoreProfile
from streams.sliding import Tally
from streams.windows import WindowSpec

_SELF_BOOST = (
    "EXISTS (SELECT 1 FROM events AS x WHERE x.event_id = f.target AND x.kind = 1"
    " AND x.public_key = f.author AND x.created_at >= f.created_at - :self_boost_horizon)"
)


def _author_counts_sql(windows: Sequence[WindowSpec]) -> str:
    values = ", ".join(f"(:name{i}, :start{i}, :end{i})" for i in range(len(windows)))
    return (
        f"WITH windows(name, start_ms, end_ms) AS (VALUES {values}), {topic_facts_cte()},\n"
        "scored(topic_id, author, posts, boosts, self_boosts, created_at) AS (\n"
        "    SELECT f.topic_id, f.author, 1, 0, 0, f.created_at FROM app_facts AS f WHERE f.kind IN ('post', 'reply')\n"
        "    UNION ALL\n"
        f"    SELECT f.topic_id, f.author, 0, 1, {_SELF_BOOST}, f.created_at FROM app_facts AS f WHERE f.kind = 'boost'\n"
        ")\n"
        "SELECT w.name, s.topic_id, s.author, SUM(s.posts), SUM(s.boosts), SUM(s.self_boosts)\n"
        "  FROM scored AS s JOIN windows AS w ON s.created_at >= w.start_ms AND s.created_at < w.end_ms\n"
        " GROUP BY w.name, s.topic_id, s.author"
    )


async def read_profile_inputs(
    app_db: Path, boundary: int, profiles: Sequence[ScoreProfile]
) -> dict[str, dict[str, list[ScoreInputs]]]:
    """Profile name -> topic -> the inputs of `score_topic` (one per `profile.needs`), for every
    topic with a live post or boost in some window a profile reads.

    Raises `sqlite3.Error` when the app database cannot be read.
    """
    windows = list({need.window.name: need.window for p in profiles for need in p.needs}.values())
    params: dict[str, object] = {
        "lo": boundary - max(w.span_ms for w in windows), "hi": boundary, "self_boost_horizon": SELF_BOOST_HORIZON_MS,
    }
    for i, spec in enumerate(windows):
        params[f"name{i}"], (params[f"start{i}"], params[f"end{i}"]) = spec.name, spec.bounds(boundary)
    conn = await connect_reader(app_db)
    try:
        async with conn.execute(_author_counts_sql(windows), params) as cursor:
            rows = await cursor.fetchall()
    finally:
        await conn.close()
    tallies: dict[str, dict[str, Tally]] = {w.name: {} for w in windows}
    for name, topic, author, posts, boosts, self_boosts in rows:
        by_topic = tallies[name]
        tally = by_topic.get(topic)
        if tally is None:
            tally = by_topic[topic] = Tally()
        tally.add_author(author, posts, boosts, self_boosts)
    topics = sorted({topic for by_topic in tallies.values() for topic in by_topic})
    result: dict[str, dict[str, list[ScoreInputs]]] = {}
    for profile in profiles:
        result[profile.name] = {
            topic: [_inputs(tallies[need.window.name].get(topic), need) for need in profile.needs] for topic in topics
        }
    return result


def _inputs(tally: Tally | None, need: Need) -> ScoreInputs:
    return NO_INPUTS if tally is None else tally.inputs(need.cap, need.count_self_boosts)
