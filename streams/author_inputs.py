"""Score-profile inputs read from the stream's window tallies, for profiles that need per-author counts.

A profile with an author cap, or one that leaves self-boosts out, cannot be scored from a window's
plain counters: it reads each author's posts and boosts (`streams.sliding.Tally.inputs`). This
module turns the window tallies of one boundary into the same shape the reconciliation reads from
the app database (`appdb.profile_inputs.read_profile_inputs`): profile name -> topic -> one
`ScoreInputs` per `profile.needs` (`streams.scoring.ProfileInputs`), so
`streams.metrics.build_snapshot` scores both alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.scoring import NO_INPUTS, ScoreInputs, ScoreProfile, needs_author_counts
from streams.sliding import Tally


def author_inputs(
    tallies: Mapping[str, Mapping[str, Tally]], profiles: Iterable[ScoreProfile], topics: Iterable[str]
) -> dict[str, dict[str, list[ScoreInputs]]]:
    """The inputs of every profile that needs per-author counts, for each of `topics`.

    `tallies`: window name -> topic -> tally, for one boundary (every window the profiles read).
    Costs O(authors) per topic and capped need: a snapshot pays it, the ingest path does not.
    """
    topics = list(topics)
    result: dict[str, dict[str, list[ScoreInputs]]] = {}
    for profile in profiles:
        if not needs_author_counts(profile):
            continue
        by_need = []
        for need in profile.needs:
            window = tallies.get(need.window.name)
            if window is None:
                raise ValueError(f"profile {profile.name} reads the window {need.window.name}, which the state lacks")
            by_need.append((window, need.cap, need.count_self_boosts))
        result[profile.name] = {
            topic: [_read(window.get(topic), cap, own) for window, cap, own in by_need] for topic in topics
        }
    return result


def _read(tally: Tally | None, cap: int | None, count_self_boosts: bool) -> ScoreInputs:
    return NO_INPUTS if tally is None else tally.inputs(cap, count_self_boosts)
