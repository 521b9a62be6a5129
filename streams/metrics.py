"""The one definition of every trending metric and score (docs/metrics.md).

The stream, the reconciliation batch and the read API's live fallback all turn per-window counts
into rows with these functions, so the three cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Final

from config.settings import ScoreWeights
from streams.events import Kind
from streams.scoring import (
    NO_INPUTS,
    ProfileInputs,
    ScoreProfile,
    Scoring,
    TopicScore,
    computed_profiles,
    linear_score,
    needs_author_counts,
    score_topic,
    scoring_windows,
)
from streams.windows import W6, W24, WPREV, WindowSpec


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one live fact of a kind adds to its window."""

    posts: int
    replies: int
    boosts: int
    bookmarks: int
    authors: bool  # the actor is an author (counts towards unique_authors)
    participants: bool  # the actor is a participant


CONTRIBUTIONS: Final[dict[Kind, Contribution]] = {
    # A reply is also a post, as in kukuri.
    "post": Contribution(1, 0, 0, 0, authors=True, participants=True),
    "reply": Contribution(1, 1, 0, 0, authors=True, participants=True),
    "boost": Contribution(0, 0, 1, 0, authors=False, participants=True),
    "bookmark": Contribution(0, 0, 0, 1, authors=False, participants=True),
    # A delete only retracts another fact; it counts nowhere itself.
    "delete": Contribution(0, 0, 0, 0, authors=False, participants=False),
}


@dataclass(slots=True)
class WindowCounts:
    """One topic's live facts in one window (not frozen, for the same reason as `TopicMetrics`)."""

    posts: int = 0
    replies: int = 0
    boosts: int = 0
    bookmarks: int = 0
    unique_authors: int = 0
    participants: int = 0

    @property
    def empty(self) -> bool:
        return self.participants == 0


EMPTY: Final = WindowCounts()  # shared: never mutate it

# Per window name, per topic: that topic's live facts in the window.
CountsByWindow = Mapping[str, Mapping[str, WindowCounts]]

COUNT_FIELDS: Final = tuple(f.name for f in fields(WindowCounts))
# The counts `build_snapshot` reads of each standard window (every other window: all of them), so
# a batch that computes counts may skip the rest: W6 feeds only the `_6h` columns, Wprev

# `participant_delta`, and the rising formula its posts and boosts (as the 24 h window's baseline).
SNAPSHOT_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    W24.name: COUNT_FIELDS,
    W6.name: ("posts", "replies", "boosts", "bookmarks", "unique_authors"),
    WPREV.name: ("posts", "boosts", "unique_authors", "participants"),
}


score = linear_score  # the default profile's score, defined beside the other formulas


@dataclass(slots=True)
class TopicMetrics:
    """One `topic_metrics` row, in the table's column order.

    Not frozen: a frozen dataclass sets each of its 18 fields through `object.__setattr__`, which
    made building a 100k-topic snapshot take twice as long. Treat rows as values all the same.
    """

    topic_id: str
    window_start: int
    window_end: int
    posts_24h: int
    posts_6h: int
    unique_authors: int
    boosts: int
    replies: int
    bookmarks: int
    participant_delta: int
    score_24h: float
    score_6h: float
    updated_at: int
    unique_authors_6h: int
    boosts_6h: int
    replies_6h: int
    bookmarks_6h: int
    participants_24h: int

    def values(self) -> tuple[object, ...]:
        # Spelled out: dataclasses.astuple deep-copies and costs ~5x more on the snapshot path.
        return (
            self.topic_id, self.window_start, self.window_end, self.posts_24h, self.posts_6h, self.unique_authors,
            self.boosts, self.replies, self.bookmarks, self.participant_delta, self.score_24h, self.score_6h,
            self.updated_at, self.unique_authors_6h, self.boosts_6h, self.replies_6h, self.bookmarks_6h,
            self.participants_24h,
        )


TOPIC_METRICS_COLUMNS: Final = tuple(f.name for f in fields(TopicMetrics))


def topic_metrics(
    topic_id: str,
    boundary: int,
    w24: WindowCounts,
    w6: WindowCounts,
    prev_participants: int,
    scores: tuple[float, float],
    updated_at: int,
) -> TopicMetrics:
    """Build the row for boundary E from the topic's W24, W6 and Wprev counts and the active
    profile's `(score_24h, score_6h)`."""
    start, end = W24.bounds(boundary)
    return TopicMetrics(
        topic_id=topic_id,
        window_start=start,
        window_end=end,
        posts_24h=w24.posts,
        posts_6h=w6.posts,
        unique_authors=w24.unique_authors,
        boosts=w24.boosts,
        replies=w24.replies,
        bookmarks=w24.bookmarks,
        participant_delta=w24.participants - prev_participants,
        score_24h=scores[0],
        score_6h=scores[1],
        updated_at=updated_at,
        unique_authors_6h=w6.unique_authors,
        boosts_6h=w6.boosts,
        replies_6h=w6.replies,
        bookmarks_6h=w6.bookmarks,
        participants_24h=w24.participants,
    )


@dataclass(frozen=True, slots=True)
class WindowMetrics:
    """One `topic_window_metrics` row: a configured extra window (1h, 7d, ...) for boundary E."""

    topic_id: str
    window_end: int
    window: str
    window_start: int
    posts: int
    replies: int
    boosts: int
    bookmarks: int
    unique_authors: int
    participants: int
    score: float
    updated_at: int

    def values(self) -> tuple[object, ...]:
        return (
            self.topic_id, self.window_end, self.window, self.window_start, self.posts, self.replies, self.boosts,
            self.bookmarks, self.unique_authors, self.participants, self.score, self.updated_at,
        )


WINDOW_METRICS_COLUMNS: Final = tuple(f.name for f in fields(WindowMetrics))


def window_metrics(
    topic_id: str, window: str, bounds: tuple[int, int], counts: WindowCounts,
    weights: ScoreWeights, updated_at: int,
) -> WindowMetrics:
    start, end = bounds
    return WindowMetrics(
        topic_id=topic_id, window_end=end, window=window, window_start=start,
        posts=counts.posts, replies=counts.replies, boosts=counts.boosts, bookmarks=counts.bookmarks,
        unique_authors=counts.unique_authors, participants=counts.participants,
        score=score(counts.posts, counts.unique_authors, counts.boosts, weights), updated_at=updated_at,
    )


@dataclass(slots=True)
class ProfileScore:
    """One topic's scores under one shadow profile for boundary E (`topic_profile_scores`).

    `ranked` is False when the profile leaves the topic out of its list (`min_authors`); the rank
    itself is global, so the sink computes it once every part of a snapshot is in. Not frozen, for
    the reason given on `TopicMetrics`: a snapshot builds one per topic and shadow.
    """

    topic_id: str
    window_end: int
    profile: str
    fingerprint: str
    score_24h: float
    score_6h: float
    ranked: bool

    def values(self) -> tuple[object, ...]:
        return (self.topic_id, self.window_end, self.profile, self.fingerprint, self.score_24h, self.score_6h,
                int(self.ranked))


PROFILE_SCORE_COLUMNS: Final = tuple(f.name for f in fields(ProfileScore))


@dataclass(frozen=True)
class Snapshot:
    """Everything written for one boundary: `topic_metrics` rows (the active profile's scores), the
    extra windows' rows and the shadow profiles' scores."""

    boundary: int
    rows: list[TopicMetrics]  # sorted by topic_id
    window_rows: list[WindowMetrics]  # sorted by (window, topic_id)
    profile_rows: list[ProfileScore] = field(default_factory=list)  # sorted by (profile, topic_id)


@dataclass(frozen=True, slots=True)
class PartPosition:
    """How far a partition's stream had been read when its part of a snapshot was computed."""

    next_offset: int  # the offset after the last record the part may reflect
    lineage_since: int = 0  # when this partition's log was found lost and its state rebuilt (epoch ms; 0: never)


def build_snapshot(
    boundary: int,
    counts: CountsByWindow,
    scoring: Scoring,
    *,
    windows: Sequence[WindowSpec],
    updated_at: int,
    author_inputs: ProfileInputs | None = None,
) -> Snapshot:
    """Boundary E's rows from per-window, per-topic counts; a topic is in the snapshot iff live in W24.

    `scoring`: the computed profiles, the active one first (its scores fill `score_24h` /
    `score_6h`; the others become `profile_rows`), or the default profile's weights. The counts are
    uncapped: a profile with an author cap or without self-boosts is scored from `author_inputs`
    instead (`ValueError` without them). Every window of `windows` other than W24, W6, Wprev and the
    profiles' baselines is an extra window (topic_window_metrics).
    The stream (per partition) and the batch (reconcile, backfill, fallback) both build rows here.
    """
    profiles = computed_profiles(scoring)
    for profile in profiles:
        unsupported = needs_author_counts(profile)
        if unsupported and (author_inputs is None or profile.name not in author_inputs):
            raise ValueError(f"profile {profile.name}: {', '.join(unsupported)} needs per-author counts"
                             " (author_inputs), which window counts do not keep")
    active = profiles[0]
    w24, w6, prev = counts.get(W24.name, {}), counts.get(W6.name, {}), counts.get(WPREV.name, {})
    topics = sorted(t for t, c in w24.items() if not c.empty)
    active_scores = _scores(active, counts, topics, author_inputs)
    rows = [
        topic_metrics(
            topic, boundary, w24[topic], w6.get(topic, EMPTY), prev.get(topic, EMPTY).participants,
            scores, updated_at,
        )
        for topic, scores in zip(topics, active_scores, strict=True)
    ]
    scoring_only = {W24, W6, WPREV, *scoring_windows(profiles)}
    weights = active.weights
    window_rows = [
        window_metrics(topic, spec.name, spec.bounds(boundary), c, weights, updated_at)
        for spec in sorted((w for w in windows if w not in scoring_only), key=lambda s: s.name)
        for topic, c in sorted(counts.get(spec.name, {}).items())
        if not c.empty
    ]
    profile_rows = []
    for shadow in sorted(profiles[1:], key=lambda p: p.name):
        name, fingerprint = shadow.name, shadow.fingerprint  # a sha256 each: once per profile
        profile_rows += [
            ProfileScore(topic, boundary, name, fingerprint, s.score_24h, s.score_6h, s.ranked)
            for topic, s in zip(topics, _topic_scores(shadow, counts, topics, author_inputs), strict=True)
        ]
    return Snapshot(boundary, rows, window_rows, profile_rows)


def _scores(
    profile: ScoreProfile, counts: CountsByWindow, topics: list[str], author_inputs: ProfileInputs | None
) -> list[tuple[float, float]]:
    """`(score_24h, score_6h)` of each topic under the active profile."""
    if profile.formula == "linear" and profile.min_authors == 0 and not needs_author_counts(profile):
        # The default's path, kept as cheap as before profiles: no per-topic objects.
        w24, w6, weights = counts.get(W24.name, {}), counts.get(W6.name, {}), profile.weights
        out = []
        for topic in topics:
            a, b = w24[topic], w6.get(topic, EMPTY)
            out.append((linear_score(a.posts, a.unique_authors, a.boosts, weights),
                        linear_score(b.posts, b.unique_authors, b.boosts, weights)))
        return out
    return [(s.score_24h, s.score_6h) for s in _topic_scores(profile, counts, topics, author_inputs)]


def _topic_scores(
    profile: ScoreProfile, counts: CountsByWindow, topics: list[str], author_inputs: ProfileInputs | None
) -> list[TopicScore]:
    if author_inputs is not None and profile.name in author_inputs:
        by_topic = author_inputs[profile.name]
        none = [NO_INPUTS] * len(profile.needs)
        return [score_topic(profile, by_topic.get(topic, none)) for topic in topics]
    missing = [need.window.name for need in profile.needs if need.window.name not in counts]
    if missing:
        raise ValueError(f"profile {profile.name} reads the window {missing[0]}, which these counts do not have")
    by_need = [counts[need.window.name] for need in profile.needs]
    return [score_topic(profile, [c.get(topic, EMPTY) for c in by_need]) for topic in topics]
