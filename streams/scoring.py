"""Score profiles: which formula turns one topic's window inputs into `score_24h` / `score_6h`.

Pure and I/O-free. A profile is a value (`ScoreProfile`): its formula (`linear` or `rising`), its
weights and its anti-gaming parameters. The built-in `default` profile is the linear score of
`linear_score` (`streams.metrics.score`), bit for bit; `rising` ranks topics by how far their activity exceeds their
own baseline (docs/scoring.md has the definitions and worked examples).

A profile states what it needs of the window state as `Need`s (a window, an author cap and whether
self-boosts count). The stream, the reconciliation batch and the live fallback each produce one
`ScoreInputs` per need, in the order of `profile.needs` (`streams.sliding.Tally.inputs` applies the
cap the same way for all three), and call `score_topic`, so the three compute identical numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal, NamedTuple, Protocol, get_args

from config.settings import ScoreWeights
from streams.windows import HOUR_MS, W6, W24, WPREV, WindowSpec

Formula = Literal["linear", "rising"]
FORMULAS: Final[tuple[Formula, ...]] = get_args(Formula)

# Part of every fingerprint: bump it when a formula's code changes what it computes, so that
# `score_change` never compares numbers of two different implementations.
SCORING_VERSION: Final = 1

# A boost is a self-boost only if its target was created at most this long before it (see
# `is_self_boost`). Bounded so the stream still holds the target whenever the boost is scored.
SELF_BOOST_HORIZON_MS: Final = 24 * HOUR_MS


def linear_score(posts: int, unique_authors: int, boosts: int, weights: ScoreWeights) -> float:
    """`posts * w_posts + unique_authors * w_unique_authors + boosts * w_boosts`, in that order: the
    default score (`streams.metrics.score` is this function).

    >>> linear_score(10, 4, 5, ScoreWeights())
    7.7
    >>> linear_score(1, 1, 0, ScoreWeights(posts=1.0, unique_authors=0.0, boosts=0.0))
    1.0
    """
    return posts * weights.posts + unique_authors * weights.unique_authors + boosts * weights.boosts


@dataclass(frozen=True, slots=True)
class RisingParameters:
    """`baseline_hours`: how much history before each observed window sets its expectation, in whole
    days so the baseline covers every hour of the day equally. `expected_floor`: the least expected
    activity, so a brand-new topic is compared with a small number instead of dividing by zero."""

    baseline_hours: int = 24
    expected_floor: float = 1.0

    def __post_init__(self) -> None:
        if self.baseline_hours <= 0 or self.baseline_hours % 24:
            raise ValueError(f"baseline_hours must be a positive multiple of 24, got {self.baseline_hours}")
        if not self.expected_floor > 0 or self.expected_floor == float("inf"):
            raise ValueError(f"expected_floor must be a positive finite number, got {self.expected_floor}")


@dataclass(frozen=True, slots=True)
class ScoreProfile:
    """One way of scoring. The name is a label; everything else decides the numbers (and the fingerprint).

    `min_authors`: a topic whose window has fewer distinct authors scores 0 in that window, and a
    topic with fewer in its 24 h window is not ranked at all. `author_cap`: at most this many posts
    (posts and replies) and at most this many boosts of one author count towards one topic's score
    per window; None = no cap. `count_self_boosts`: whether a boost of the booster's own post counts.
    """

    name: str
    formula: Formula = "linear"
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    min_authors: int = 0
    author_cap: int | None = None
    count_self_boosts: bool = True
    rising: RisingParameters | None = None
    # Derived from the fields above once, because the snapshot reads it for every topic.
    _needs: tuple[Need, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.formula not in FORMULAS:
            raise ValueError(f"profile {self.name}: unknown formula {self.formula!r}")
        if (self.formula == "rising") != (self.rising is not None):
            raise ValueError(f"profile {self.name}: rising parameters go with the rising formula, and only with it")
        if self.min_authors < 0:
            raise ValueError(f"profile {self.name}: min_authors must be >= 0")
        if self.author_cap is not None and self.author_cap < 1:
            raise ValueError(f"profile {self.name}: author_cap must be >= 1 (or absent for no cap)")
        object.__setattr__(self, "_needs", self._derive_needs())

    def parameters(self) -> dict[str, object]:
        """Every parameter that decides this profile's numbers, and nothing else.

        The rising formula does not use the unique_authors weight, so it is left out of its
        parameters: changing `[metrics.score_weights] unique_authors` does not change a rising
        profile's fingerprint.
        """
        params: dict[str, object] = {
            "formula": self.formula,
            "w_posts": float(self.weights.posts),
            "w_boosts": float(self.weights.boosts),
            "min_authors": self.min_authors,
            "author_cap": self.author_cap,
            "count_self_boosts": self.count_self_boosts,
        }
        if self.rising is None:
            params["w_unique_authors"] = float(self.weights.unique_authors)
        else:
            params["baseline_hours"] = self.rising.baseline_hours
            params["expected_floor"] = float(self.rising.expected_floor)
        return params

    @property
    def fingerprint(self) -> str:
        """16 hex digits of the sha256 of the canonical JSON of the parameters and `SCORING_VERSION`.

        >>> DEFAULT.fingerprint == ScoreProfile("renamed").fingerprint
        True
        """
        canonical = json.dumps(
            {"scoring_version": SCORING_VERSION, **self.parameters()}, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def needs(self) -> tuple[Need, ...]:
        """What this profile reads of the window state, one `Need` per (window, cap) it scores:
        (24h, 6h) for linear; (24h, its baseline, 6h, its baseline) for rising."""
        return self._needs

    def _derive_needs(self) -> tuple[Need, ...]:
        if self.rising is None:
            return (self._need(W24), self._need(W6))
        return (
            self._need(W24), self._need(baseline_window(W24, self.rising.baseline_hours), W24),
            self._need(W6), self._need(baseline_window(W6, self.rising.baseline_hours), W6),
        )

    def _need(self, window: WindowSpec, observed: WindowSpec | None = None) -> Need:
        """The need of `window`; a baseline of `observed` gets the cap scaled to its length (see docs)."""
        cap = self.author_cap
        if cap is not None and observed is not None:
            cap = cap * window.length_ms // observed.length_ms
        return Need(window, cap, self.count_self_boosts)


@dataclass(frozen=True, slots=True)
class Need:
    """One window's inputs as one profile sees them: author cap and self-boost rule applied."""

    window: WindowSpec
    cap: int | None
    count_self_boosts: bool


class WindowInputs(Protocol):
    """What a formula reads of one topic in one window: `ScoreInputs`, or the stream's uncapped
    `streams.metrics.WindowCounts` for a need without a cap that counts self-boosts."""

    @property
    def posts(self) -> int: ...
    @property
    def boosts(self) -> int: ...
    @property
    def unique_authors(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ScoreInputs:
    """One topic in one window for one `Need`. `posts` (posts and replies) and `boosts` are summed
    per author after the cap (self-boosts left out unless counted); `unique_authors` is the number of
    distinct authors of posts and replies, which no cap changes."""

    posts: int = 0
    boosts: int = 0
    unique_authors: int = 0


NO_INPUTS: Final = ScoreInputs()


class TopicScore(NamedTuple):
    """One topic's scores under one profile (a tuple: a snapshot builds one per topic and profile)."""

    score_24h: float
    score_6h: float
    ranked: bool


def baseline_window(observed: WindowSpec, baseline_hours: int) -> WindowSpec:
    """`[E - observed - baseline, E - observed)`: the history just before an observed window.

    The 24 h baseline of the 24 h window is the previous 24 h the stream already keeps:

    >>> baseline_window(W24, 24) is WPREV
    True
    >>> baseline_window(W6, 24).bounds(30 * HOUR_MS)
    (0, 86400000)
    """
    length, lag = baseline_hours * HOUR_MS, observed.length_ms
    if (length, lag) == (WPREV.length_ms, WPREV.lag_ms):
        return WPREV
    return WindowSpec(f"{observed.name}_baseline_{baseline_hours}h", length, lag_ms=lag)


DEFAULT: Final = ScoreProfile("default")
RISING: Final = ScoreProfile(
    "rising", "rising", min_authors=3, author_cap=5, count_self_boosts=False, rising=RisingParameters()
)


def builtin_profiles(weights: ScoreWeights) -> dict[str, ScoreProfile]:
    """The built-in profiles, with the configured `[metrics.score_weights]`."""
    return {p.name: replace(p, weights=weights) for p in (DEFAULT, RISING)}


ProfileInputs = Mapping[str, Mapping[str, Sequence["ScoreInputs"]]]
"""Profile name -> topic_id -> the inputs of `score_topic`, one per `profile.needs`: what a profile
that needs per-author counts is scored from (the stream reads them from its window tallies, the
batch from the app database)."""

# What a snapshot is scored with: the profiles it computes, the active one first, or just weights
# (the built-in `default` profile with those weights).
Scoring = ScoreWeights | Sequence[ScoreProfile]


def computed_profiles(scoring: Scoring) -> tuple[ScoreProfile, ...]:
    """The profiles of `scoring`, the active one first.

    >>> [p.name for p in computed_profiles(ScoreWeights())]
    ['default']
    """
    if isinstance(scoring, ScoreWeights):
        return (replace(DEFAULT, weights=scoring),)
    if not scoring:
        raise ValueError("a snapshot computes at least its active profile")
    return tuple(scoring)


def min_authors_of(fingerprint: str | None, profiles: Iterable[ScoreProfile]) -> int:
    """The `min_authors` of the profile with this fingerprint: a ranking of `topic_metrics` written
    with it leaves out topics with fewer distinct authors. 0 when no profile has it (an older run,
    or a profile this configuration no longer defines).

    >>> min_authors_of(RISING.fingerprint, [DEFAULT, RISING]), min_authors_of(None, [RISING])
    (3, 0)
    """
    return next((p.min_authors for p in profiles if p.fingerprint == fingerprint), 0)


def needs_author_counts(profile: ScoreProfile) -> tuple[str, ...]:
    """The parameters of `profile` that need per-author counts or the self-boost rule.

    Plain window counts cannot score such a profile: the stream reads per-author inputs from its
    window tallies (`streams.author_inputs`, with `per_author_boosts` on), the batch from the app
    database (`appdb.profile_inputs`); docs/scoring.md, "What the stream keeps".

    >>> needs_author_counts(DEFAULT), needs_author_counts(RISING)
    ((), ('author_cap', 'count_self_boosts'))
    """
    found = []
    if profile.author_cap is not None:
        found.append("author_cap")
    if not profile.count_self_boosts:
        found.append("count_self_boosts")
    return tuple(found)


def score_topic(profile: ScoreProfile, inputs: Sequence[WindowInputs]) -> TopicScore:
    """Score one topic from its inputs, one per `profile.needs`, in that order (`NO_INPUTS` where
    the topic had nothing).

    >>> score_topic(DEFAULT, [ScoreInputs(10, 5, 4), ScoreInputs(2, 0, 1)])
    TopicScore(score_24h=7.7, score_6h=1.5, ranked=True)
    """
    if len(inputs) != len(profile.needs):
        raise ValueError(f"profile {profile.name} needs {len(profile.needs)} inputs, got {len(inputs)}")
    if profile.rising is None:
        x24, x6 = inputs
        s24, s6 = _linear(profile, x24), _linear(profile, x6)
    else:
        x24, base24, x6, base6 = inputs
        s24 = _rising(profile, profile.rising, x24, base24, 24)
        s6 = _rising(profile, profile.rising, x6, base6, 6)
    return TopicScore(s24, s6, x24.unique_authors >= profile.min_authors)


def _linear(profile: ScoreProfile, x: WindowInputs) -> float:
    if x.unique_authors < profile.min_authors:
        return 0.0
    return linear_score(x.posts, x.unique_authors, x.boosts, profile.weights)


def activity(x: WindowInputs, weights: ScoreWeights) -> float:
    """`posts * w_posts + boosts * w_boosts`: what the rising formula compares over time.

    Distinct authors are left out: they do not add up over time (ten people posting all day are ten
    authors in 6 h and ten in 24 h), so a rate built on them would read a steady topic as rising.
    """
    return x.posts * weights.posts + x.boosts * weights.boosts


def _rising(
    profile: ScoreProfile, params: RisingParameters, observed: WindowInputs, baseline: WindowInputs, observed_hours: int
) -> float:
    """`(O - X')^2 / X'` when `O > X'`, else 0, with `X' = max(X, expected_floor)` (docs/scoring.md)."""
    if observed.unique_authors < profile.min_authors:
        return 0.0
    o = activity(observed, profile.weights)
    expected = max(activity(baseline, profile.weights) * observed_hours / params.baseline_hours, params.expected_floor)
    if o <= expected:
        return 0.0
    return (o - expected) ** 2 / expected


def rank_topics(scored: Iterable[tuple[str, TopicScore, int]]) -> dict[str, int]:
    """Rank (1-based, no gaps) of every ranked topic, from `(topic_id, score, posts_24h)` triples.

    The read API's order: score_24h, score_6h and posts_24h descending, then topic_id ascending.

    >>> rank_topics([("b", TopicScore(1.0, 0.0, True), 3), ("a", TopicScore(1.0, 0.0, True), 3),
    ...              ("c", TopicScore(2.0, 0.0, False), 9)])
    {'a': 1, 'b': 2}
    """
    ranked = sorted(
        ((-s.score_24h, -s.score_6h, -posts, topic) for topic, s, posts in scored if s.ranked)
    )
    return {key[3]: rank for rank, key in enumerate(ranked, start=1)}


class TargetFact(Protocol):
    """What the self-boost rule needs of a boost's target (a stored fact record has these)."""

    @property
    def kind(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def created_at(self) -> int: ...


def is_self_boost(booster: str, boost_created_at: int, target: TargetFact | None) -> bool:
    """A boost is a self-boost iff its target is a post or reply of the same topic (retracted or not),
    by the booster, created no earlier than `SELF_BOOST_HORIZON_MS` before the boost. An unknown
    target (never seen in the topic, or older than the horizon) makes an ordinary boost.

    >>> from streams.state_keys import FactRecord
    >>> is_self_boost("alice", 1_000, FactRecord("post", True, 0, "alice", ""))
    True
    >>> is_self_boost("alice", 1_000, FactRecord("post", False, 0, "bob", "")), is_self_boost("alice", 1_000, None)
    (False, False)
    """
    return (
        target is not None
        and target.kind in ("post", "reply")
        and target.author == booster
        and target.created_at >= boost_created_at - SELF_BOOST_HORIZON_MS
    )


def scoring_windows(profiles: Iterable[ScoreProfile]) -> tuple[WindowSpec, ...]:
    """The windows the profiles read beyond 24h, 6h and the previous 24h, in a stable order."""
    seen: dict[str, WindowSpec] = {}
    for profile in profiles:
        for need in profile.needs:
            if need.window not in (W24, W6, WPREV):
                seen.setdefault(need.window.name, need.window)
    return tuple(seen[name] for name in sorted(seen))


def missing_windows(profiles: Iterable[ScoreProfile], kept: Iterable[WindowSpec]) -> list[tuple[str, str]]:
    """`(profile, window)` for every window a profile reads that `kept` (a window state's windows) lacks.

    >>> missing_windows([DEFAULT], (W24, W6, WPREV))
    []
    >>> surging = ScoreProfile("surging", "rising", rising=RisingParameters())
    >>> missing_windows([surging], (W24, W6, WPREV))
    [('surging', '6h_baseline_24h')]
    """
    have = set(kept)
    return [(p.name, n.window.name) for p in profiles for n in p.needs if n.window not in have]


def required_span_ms(profiles: Iterable[ScoreProfile]) -> int:
    """How far back from a boundary the stream must hold facts for these profiles.

    A scored boost may be classified against a target up to `SELF_BOOST_HORIZON_MS` older than
    itself, so profiles that drop self-boosts add the horizon to their longest window. The stream's
    retention is at least this plus the late grace period.
    """
    span = 0
    for profile in profiles:
        reach = max(n.window.span_ms for n in profile.needs)
        if not profile.count_self_boosts:
            reach += SELF_BOOST_HORIZON_MS
        span = max(span, reach)
    return span
