"""Score rounding of the read API's results, for any score the metrics can produce."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from api.models import SCORE_DECIMALS, TopicHistory, TrendingTopic, round_score

# Scores are weighted sums of counts: non-negative, far below 1e9 in practice; changes may be negative.
scores = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**6)
weights = st.floats(min_value=0, max_value=10, allow_nan=False)


@given(scores)
def test_a_rounded_score_prints_with_at_most_six_decimals_and_stays_close(score: float) -> None:
    rounded = round_score(score)

    assert -Decimal(repr(rounded)).as_tuple().exponent <= SCORE_DECIMALS  # type: ignore[operator]
    assert abs(rounded - score) <= 0.5 * 10**-SCORE_DECIMALS + abs(score) * 1e-15
    assert round_score(rounded) == rounded


@given(counts, counts, counts, weights, weights, weights)
def test_weighted_sums_lose_their_float_noise(
    posts: int, authors: int, boosts: int, w_posts: float, w_authors: float, w_boosts: float
) -> None:
    score = posts * w_posts + authors * w_authors + boosts * w_boosts
    exact = Decimal(posts) * Decimal(repr(w_posts)) + Decimal(authors) * Decimal(repr(w_authors)) \
        + Decimal(boosts) * Decimal(repr(w_boosts))

    # Within half a unit of the 6th decimal of the exact decimal sum (the float error of the sum
    # itself is far smaller): what is shown is the true score, rounded, not float noise.
    error = abs(Decimal(repr(round_score(score))) - exact)
    assert error <= Decimal("0.5e-6") + abs(exact) * Decimal("1e-15")


def test_results_carry_rounded_scores() -> None:
    topic = TrendingTopic("a", None, None, 0, 0, 0.1 + 0.2, 0.7 * 3, 1, 0.3 - 0.1, 1, 0, 1, 0, 0, 0, 0)
    history = TopicHistory("a", (0.1 + 0.2, -1e-9, 2.9999999999999996))

    assert (topic.trending_score, topic.score_6h, topic.score_change) == (0.3, 2.1, 0.2)
    assert history.score_24h == (0.3, 0.0, 3.0)
