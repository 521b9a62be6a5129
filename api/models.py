"""Typed results of the read API. Field names are the JSON names of the HTTP API (docs/api.md).

Scores leave the read API rounded to `SCORE_DECIMALS` places, so every surface built on these
types (HTTP, the live feed, `kukuri-trending top` / `watch`, the dashboard) shows `0.3` where float
arithmetic made `0.30000000000000004`; the database keeps full precision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

DataSource = Literal["metrics", "fallback"]
# Why a topic's `score_change` is null: there is no earlier snapshot, the topic had no row in it, or
# it was not scored with the same profile parameters (fingerprint) as this one.
ScoreChangeReason = Literal["no_previous_snapshot", "new_topic", "profile_changed"]
# "disabled": `metrics.enabled` is false, so no snapshot is expected and answers are computed live.
HealthStatus = Literal["ok", "stale", "missing", "disabled"]

SCORE_DECIMALS: Final = 6


def round_score(score: float) -> float:
    """`score` to `SCORE_DECIMALS` decimal places (and never `-0.0`).

    >>> round_score(0.1 + 0.2), round_score(2.9999999999999996), round_score(-1e-9)
    (0.3, 3.0, 0.0)
    """
    return round(score, SCORE_DECIMALS) + 0.0


@dataclass(frozen=True, slots=True)
class TrendingTopic:
    topic_id: str
    name: str | None
    description: str | None
    member_count: int
    post_count: int
    trending_score: float
    score_6h: float
    rank: int
    score_change: float | None
    posts_24h: int
    posts_6h: int
    unique_authors: int
    boosts: int
    replies: int
    bookmarks: int
    participant_delta: int
    score_change_reason: ScoreChangeReason | None = None  # set exactly when score_change is null
    # The rank in the previous snapshot's ranking of the same profile fingerprint; None when there is
    # no such snapshot (see score_change_reason) or it did not rank the topic.
    previous_rank: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "trending_score", round_score(self.trending_score))
        object.__setattr__(self, "score_6h", round_score(self.score_6h))
        if self.score_change is not None:
            object.__setattr__(self, "score_change", round_score(self.score_change))


@dataclass(frozen=True, slots=True)
class TrendingTopics:
    """The trending list of one snapshot; `generated_at` is that snapshot's boundary E."""

    generated_at: int
    data_source: DataSource
    stale: bool
    topics: tuple[TrendingTopic, ...]
    profile: ProfileRef | None = None  # set (and serialized) only when a profile was asked for

    def head(self, limit: int) -> TrendingTopics:
        """The first `limit` topics: the same list a request with that limit gets, because refilling
        past missing topics only ever extends a prefix."""
        return replace(self, topics=self.topics[:limit])

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if self.profile is None:
            del body["profile"]
        return body


@dataclass(frozen=True, slots=True)
class ProfileRef:
    """The score profile a list is ranked by; `fingerprint` is None for a snapshot from before profiles."""

    name: str
    fingerprint: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class ComputedProfile:
    """A score profile this deployment computes with every snapshot (`GET /api/trending/profiles`)."""

    name: str
    fingerprint: str
    formula: str
    active: bool


@dataclass(frozen=True, slots=True)
class ProfileComparison:
    """One shadow profile's ranking against the active one's (docs/scoring.md, "Comparing two profiles")."""

    profile: str
    fingerprint: str
    overlap_top10: float | None
    overlap_top50: float | None
    kendall_tau: float | None
    entering_top10: tuple[str, ...]
    leaving_top10: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProfileComparisons:
    """Every shadow stored with snapshot `window_end`, compared with its active profile."""

    window_end: int
    active: ProfileRef
    profiles: tuple[ProfileComparison, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TrendingPost:
    event_id: str
    author: str
    content: str | None
    created_at: int
    reply_to: str | None
    replies: int
    boosts: int
    bookmarks: int
    engagement: int
    relative_rank: int


@dataclass(frozen=True, slots=True)
class TopicPosts:
    topic_id: str
    name: str | None
    posts_24h: int
    posts: tuple[TrendingPost, ...]


@dataclass(frozen=True, slots=True)
class TrendingPosts:
    generated_at: int
    data_source: DataSource
    stale: bool
    topics: tuple[TopicPosts, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TopicHistory:
    topic_id: str
    score_24h: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "score_24h", tuple(round_score(score) for score in self.score_24h))


@dataclass(frozen=True, slots=True)
class ScoreHistory:
    """`score_24h` per retained snapshot, aligned with `window_ends` (0 where the topic had no row:
    a snapshot holds every topic with a live fact, so a missing row means a score of 0)."""

    window_ends: tuple[int, ...]
    topics: tuple[TopicHistory, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Health:
    """The snapshot job's state as the API sees it; `data_source` is only set (and serialized) when the
    job is disabled, where every answer's source is known without reading anything."""

    status: HealthStatus
    last_snapshot: int | None
    finished_at: int | None
    source: str | None
    age_ms: int | None
    stale_after_ms: int
    metrics_enabled: bool = True
    data_source: DataSource | None = None

    @property
    def ok(self) -> bool:
        """Whether the service is healthy: fresh snapshots, or live numbers by design (disabled)."""
        return self.status in ("ok", "disabled")

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if self.data_source is None:
            del body["data_source"]
        return body
