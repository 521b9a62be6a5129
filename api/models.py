"""Typed results of the read API. Field names are the JSON names of CONTRACT section 7."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

DataSource = Literal["metrics", "fallback"]
HealthStatus = Literal["ok", "stale", "missing"]


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


@dataclass(frozen=True, slots=True)
class TrendingTopics:
    """The trending list of one snapshot; `generated_at` is that snapshot's boundary E."""

    generated_at: int
    data_source: DataSource
    stale: bool
    topics: tuple[TrendingTopic, ...]

    def head(self, limit: int) -> TrendingTopics:
        """The first `limit` topics: the same list a request with that limit gets, because refilling
        past missing topics only ever extends a prefix."""
        return replace(self, topics=self.topics[:limit])

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
    status: HealthStatus
    last_snapshot: int | None
    finished_at: int | None
    source: str | None
    age_ms: int | None
    stale_after_ms: int

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
