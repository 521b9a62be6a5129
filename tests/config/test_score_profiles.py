"""Score profiles from configuration: inheritance from [metrics.score_weights], the environment,
shadows, and a start-up error naming every kind of mistake."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from config.score_profiles import load_score_profiles
from config.settings import ConfigError, ScoreWeights
from streams.scoring import DEFAULT, RISING, RisingParameters, ScoreProfile

BASE = ScoreWeights(0.6, 0.3, 0.1)


def _metrics(text: str) -> dict[str, Any]:
    return tomllib.loads(text).get("metrics", {})


def test_nothing_configured_is_the_default_profile_with_the_configured_weights() -> None:
    got = load_score_profiles({}, BASE, {})
    assert got.active == DEFAULT and got.shadows == () and got.computed == (DEFAULT,)
    assert set(got.defined) == {"default", "rising"}
    heavy = load_score_profiles({}, ScoreWeights(1.0, 0.0, 0.5), {})
    assert heavy.active.weights == ScoreWeights(1.0, 0.0, 0.5)
    assert heavy.defined["rising"].weights == ScoreWeights(1.0, 0.0, 0.5)


def test_a_profile_inherits_every_unspecified_weight_from_score_weights() -> None:
    metrics = _metrics('[metrics]\nscore_profile = "boosty"\n[metrics.score_profiles.boosty]\nboosts = 1\n')
    got = load_score_profiles(metrics, ScoreWeights(0.5, 0.25, 0.1), {})
    assert got.active == ScoreProfile("boosty", weights=ScoreWeights(0.5, 0.25, 1.0))


def test_every_parameter_is_read() -> None:
    metrics = _metrics("""
        [metrics]
        score_profile = "fair"
        shadow_profiles = ["rising", "weekly"]
        [metrics.score_profiles.fair]
        formula = "linear"
        posts = 0.5
        unique_authors = 0.5
        min_authors = 2
        author_cap = 10
        count_self_boosts = false
        [metrics.score_profiles.weekly]
        formula = "rising"
        boosts = 0.2
        baseline_hours = 168
        expected_floor = 2.5
        author_cap = 7
    """)
    got = load_score_profiles(metrics, BASE, {})
    assert got.active == ScoreProfile("fair", "linear", ScoreWeights(0.5, 0.5, 0.1), 2, 10, False)
    assert got.shadows == (RISING, ScoreProfile(
        "weekly", "rising", ScoreWeights(0.6, 0.3, 0.2), 0, 7, True, RisingParameters(168, 2.5)
    ))
    assert [p.name for p in got.computed] == ["fair", "rising", "weekly"]


def test_the_environment_picks_the_active_profile() -> None:
    got = load_score_profiles({"score_profile": "default"}, BASE, {"KUKURI_METRICS_SCORE_PROFILE": "rising"})
    assert got.active == RISING
    with pytest.raises(ConfigError, match=r"metrics.score_profile \(KUKURI_METRICS_SCORE_PROFILE\): unknown profile 'nope'"):
        load_score_profiles({}, BASE, {"KUKURI_METRICS_SCORE_PROFILE": "nope"})


def test_weight_overrides_reach_a_profile_through_score_weights() -> None:
    metrics = _metrics('[metrics]\nscore_profile = "p"\n[metrics.score_profiles.p]\nboosts = 1.0\n')
    env = {"KUKURI_METRICS_WEIGHT_POSTS": "2.0"}
    got = load_score_profiles(metrics, ScoreWeights(2.0, 0.3, 0.1), env)
    assert got.active.weights == ScoreWeights(2.0, 0.3, 1.0)


def test_a_weight_override_the_active_profile_would_ignore_is_an_error() -> None:
    metrics = _metrics('[metrics]\nscore_profile = "p"\n[metrics.score_profiles.p]\nboosts = 1.0\n')
    with pytest.raises(ConfigError, match=r"KUKURI_METRICS_WEIGHT_BOOSTS: the active profile 'p' sets boosts itself \(metrics.score_profiles.p.boosts\)"):
        load_score_profiles(metrics, BASE, {"KUKURI_METRICS_WEIGHT_BOOSTS": "0.5"})
    # The same profile as a shadow keeps its own weight: the override is for what users see.
    as_shadow = _metrics('[metrics]\nshadow_profiles = ["p"]\n[metrics.score_profiles.p]\nboosts = 1.0\n')
    assert load_score_profiles(as_shadow, BASE, {"KUKURI_METRICS_WEIGHT_BOOSTS": "0.5"}).shadows[0].weights.boosts == 1.0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('score_profile = "spiky"', r"metrics.score_profile: unknown profile 'spiky' \(defined: default, rising\)"),
        ("score_profile = 3", "metrics.score_profile: expected a profile name"),
        ('shadow_profiles = ["spiky"]', "metrics.shadow_profiles: unknown profile 'spiky'"),
        ('shadow_profiles = "rising"', "metrics.shadow_profiles: expected a list of profile names"),
        ('shadow_profiles = ["default"]', "metrics.shadow_profiles: 'default' is the active profile"),
        ('shadow_profiles = ["rising", "rising"]', "metrics.shadow_profiles: 'rising' is listed twice"),
        ("score_profiles = 1", "metrics.score_profiles: must be a table"),
        ("score_profiles.p = 1", "metrics.score_profiles.p: must be a table"),
        ("score_profiles.default.posts = 1", "metrics.score_profiles.default: 'default' is built in"),
        ("score_profiles.rising.posts = 1", "metrics.score_profiles.rising: 'rising' is built in"),
        ('score_profiles."a b".posts = 1', "metrics.score_profiles.a b: profile names use"),
        ("score_profiles.p.wieght = 1", "metrics.score_profiles.p.wieght: unknown parameter"),
        ('score_profiles.p.formula = "log"', "metrics.score_profiles.p.formula: expected one of linear, rising"),
        ("score_profiles.p.baseline_hours = 48", "metrics.score_profiles.p.baseline_hours: not a parameter of the linear formula"),
        ('score_profiles.p = {formula = "rising", unique_authors = 1}', "metrics.score_profiles.p.unique_authors: not a parameter of the rising formula"),
        ('score_profiles.p = {formula = "rising", baseline_hours = 36}', "metrics.score_profiles.p.baseline_hours: must be whole days"),
        ('score_profiles.p = {formula = "rising", baseline_hours = 12}', "metrics.score_profiles.p.baseline_hours: must be >= 24"),
        ('score_profiles.p = {formula = "rising", expected_floor = 0}', "metrics.score_profiles.p.expected_floor: must be > 0"),
        ('score_profiles.p.posts = "1"', "metrics.score_profiles.p.posts: expected a number"),
        ("score_profiles.p.posts = -1", "metrics.score_profiles.p.posts: must be a finite number >= 0"),
        ("score_profiles.p.posts = inf", "metrics.score_profiles.p.posts: must be a finite number >= 0"),
        ("score_profiles.p.boosts = true", "metrics.score_profiles.p.boosts: expected a number"),
        ("score_profiles.p.author_cap = 0", "metrics.score_profiles.p.author_cap: must be >= 1"),
        ("score_profiles.p.author_cap = 2.5", "metrics.score_profiles.p.author_cap: expected a whole number"),
        ("score_profiles.p.min_authors = -1", "metrics.score_profiles.p.min_authors: must be >= 0"),
        ('score_profiles.p.count_self_boosts = "no"', "metrics.score_profiles.p.count_self_boosts: expected true or false"),
    ],
)
def test_mistakes_are_start_up_errors_naming_the_setting(toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_score_profiles(_metrics(f"[metrics]\n{toml}\n"), BASE, {})


def test_profiles_that_are_neither_active_nor_shadow_are_still_checked() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.score_profiles\.spare\.author_cap"):
        load_score_profiles(_metrics("[metrics.score_profiles.spare]\nauthor_cap = 0\n"), BASE, {})
