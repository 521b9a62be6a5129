"""Realistic synthetic kukuri traffic, reproducible from a seed.

Topic popularity is Zipf-skewed and drifts over time (a few topics heat up), authors are skewed
too, and the mix has posts (some in two topics), replies, boosts, bookmarks and deletes. Each
`Action` is one fact, emitted once per topic it belongs to with the same `event_id`, in causal
order; `delivery` then adds what a real pipeline adds: duplicates and out-of-order arrival.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from streams.events import Event

_WORDS = (
    "rust", "nostr", "photography", "cooking", "gardening", "music", "gaming", "travel", "books", "cycling",
    "running", "coffee", "design", "python", "linux", "astronomy", "cats", "dogs", "anime", "football",
    "climbing", "painting", "jazz", "film", "privacy", "bitcoin", "science", "history", "language", "tea",
)


def topic_name(index: int) -> str:
    word = _WORDS[index % len(_WORDS)]
    return word if index < len(_WORDS) else f"{word}-{index // len(_WORDS)}"


def topic_id(index: int) -> str:
    return f"topic-{index:05d}"


@dataclass(frozen=True, slots=True)
class Action:
    """One fact, as the events it becomes (one per topic)."""

    events: tuple[Event, ...]


@dataclass
class _Post:
    event_id: str
    topics: tuple[str, ...]


class TrafficGenerator:
    def __init__(self, topics: int, *, seed: int = 1, authors: int | None = None) -> None:
        if topics < 1:
            raise ValueError("need at least one topic")
        self.rng = random.Random(seed)
        self.topics = [topic_id(i) for i in range(topics)]
        self.authors = [f"npub{seed:02d}{i:06d}" for i in range(authors or max(50, topics * 5))]
        self._topic_weights = self._zipf(topics, 1.1)
        self._author_weights = self._zipf(len(self.authors), 0.8)
        self._recent_posts: deque[_Post] = deque(maxlen=5000)
        self._recent_facts: deque[tuple[str, tuple[str, ...]]] = deque(maxlen=5000)
        self._bookmarked: set[tuple[str, str]] = set()
        self._ids = itertools.count()
        self._seed = seed

    @staticmethod
    def _zipf(n: int, exponent: float) -> list[float]:
        weights = [1 / (rank + 1) ** exponent for rank in range(n)]
        return list(itertools.accumulate(weights))

    def _pick(self, items: list[str], cumulative: list[float]) -> str:
        return items[bisect.bisect_left(cumulative, self.rng.random() * cumulative[-1])]

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{self._seed:02d}-{next(self._ids):09d}"

    def heat_up(self) -> None:
        """Move a random topic to the top of the popularity order (what trending is about)."""
        i = self.rng.randrange(len(self.topics))
        self.topics.insert(0, self.topics.pop(i))

    def action(self, created_at: int) -> Action:
        roll = self.rng.random()
        author = self._pick(self.authors, self._author_weights)
        if roll < 0.45 or not self._recent_posts:
            return self._post(created_at, author)
        if roll < 0.65:
            return self._reply(created_at, author)
        if roll < 0.82:
            return self._acted_on("boost", created_at, author)
        if roll < 0.95:
            return self._acted_on("bookmark", created_at, author)
        return self._delete(created_at)

    def _post(self, created_at: int, author: str) -> Action:
        topics = [self._pick(self.topics, self._topic_weights)]
        if self.rng.random() < 0.1:
            other = self._pick(self.topics, self._topic_weights)
            if other != topics[0]:
                topics.append(other)
        post = _Post(self._next_id("post"), tuple(topics))
        self._recent_posts.append(post)
        self._recent_facts.append((post.event_id, post.topics))
        return Action(tuple(Event(post.event_id, "post", t, author, created_at) for t in post.topics))

    def _reply(self, created_at: int, author: str) -> Action:
        parent = self.rng.choice(self._recent_posts)
        reply = _Post(self._next_id("reply"), parent.topics)
        self._recent_posts.append(reply)
        self._recent_facts.append((reply.event_id, reply.topics))
        return Action(tuple(Event(reply.event_id, "reply", t, author, created_at, parent.event_id) for t in parent.topics))

    def _acted_on(self, kind: str, created_at: int, author: str) -> Action:
        target = self.rng.choice(self._recent_posts)
        if kind == "bookmark":
            if (author, target.event_id) in self._bookmarked:
                return self._post(created_at, author)  # kukuri allows one bookmark per user and post
            self._bookmarked.add((author, target.event_id))
        event_id = self._next_id(kind)
        self._recent_facts.append((event_id, target.topics))
        return Action(tuple(
            Event(event_id, kind, t, author, created_at, target.event_id) for t in target.topics  # type: ignore[arg-type]
        ))

    def _delete(self, created_at: int) -> Action:
        target_id, topics = self.rng.choice(self._recent_facts)
        event_id = self._next_id("delete")
        return Action(tuple(Event(event_id, "delete", t, "npub-moderator", created_at, target_id) for t in topics))

    def actions(self, start_ms: int, end_ms: int, count: int) -> Iterator[Action]:
        """`count` actions with times spread over [start_ms, end_ms), in time order, busier towards the end."""
        span = max(end_ms - start_ms, 1)
        times = sorted(start_ms + int(span * (self.rng.random() ** 0.7)) for _ in range(count))
        for i, t in enumerate(times):
            if i and i % max(count // 8, 1) == 0:
                self.heat_up()
            yield self.action(min(t, end_ms - 1))


def delivery(actions: Iterator[Action], rng: random.Random, *, duplicates: float = 0.02,
             reorder_window: int = 50) -> Iterator[Event]:
    """The events of `actions` as a broker receives them: some twice, some out of order."""
    buffer: list[Event] = []
    for action in actions:
        for event in action.events:
            buffer.append(event)
            if rng.random() < duplicates:
                buffer.append(event)
        if len(buffer) >= reorder_window:
            rng.shuffle(buffer)
            yield from buffer
            buffer.clear()
    rng.shuffle(buffer)
    yield from buffer
