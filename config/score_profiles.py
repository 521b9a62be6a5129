"""Read the score profiles from the `[metrics]` table: which one is active, which run as shadows.

    [metrics]
    score_profile = "default"              # KUKURI_METRICS_SCORE_PROFILE overrides it
    shadow_profiles = ["rising", "capped"] # computed with every snapshot, never shown by default

    [metrics.score_profiles.capped]        # any name but the built-in "default" and "rising"
    formula = "linear"                     # or "rising"
    posts = 0.5                            # unspecified weights come from [metrics.score_weights]
    author_cap = 10

Unspecified anti-gaming parameters are off (`min_authors = 0`, no `author_cap`,
`count_self_boosts = true`), whatever the formula; the built-in `rising` profile turns them on.
An unknown profile or parameter, or a bad value, raises `ConfigError` naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from config.settings import ConfigError, ScoreWeights
from streams.scoring import FORMULAS, RisingParameters, ScoreProfile, builtin_profiles

PROFILE_ENV: Final = "KUKURI_METRICS_SCORE_PROFILE"
WEIGHT_ENV: Final = {
    "posts": "KUKURI_METRICS_WEIGHT_POSTS",
    "unique_authors": "KUKURI_METRICS_WEIGHT_UNIQUE_AUTHORS",
    "boosts": "KUKURI_METRICS_WEIGHT_BOOSTS",
}
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WEIGHTS: Final = ("posts", "unique_authors", "boosts")
_LINEAR_KEYS: Final = frozenset({"formula", *_WEIGHTS, "min_authors", "author_cap", "count_self_boosts"})
_RISING_KEYS: Final = (_LINEAR_KEYS - {"unique_authors"}) | {"baseline_hours", "expected_floor"}


@dataclass(frozen=True)
class ProfileSettings:
    """The active profile (its scores fill `score_24h` / `score_6h`), the shadows computed beside it,
    and every profile defined (built-in or configured), by name."""

    active: ScoreProfile
    shadows: tuple[ScoreProfile, ...]
    defined: Mapping[str, ScoreProfile]

    @property
    def computed(self) -> tuple[ScoreProfile, ...]:
        """Every profile a snapshot computes: the active one first."""
        return (self.active, *self.shadows)


def load_score_profiles(
    metrics: Mapping[str, Any], weights: ScoreWeights, environ: Mapping[str, str]
) -> ProfileSettings:
    """Build the profiles from the `[metrics]` table.

    `metrics` is the merged `[metrics]` table (only `score_profile`, `shadow_profiles` and
    `score_profiles` are read); `weights` are `[metrics.score_weights]` as already validated, with
    the `KUKURI_METRICS_WEIGHT_*` overrides applied; `environ` supplies `KUKURI_METRICS_SCORE_PROFILE`
    and tells which weight overrides are set.
    """
    tables = metrics.get("score_profiles", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("metrics.score_profiles: must be a table of [metrics.score_profiles.NAME] tables")
    defined = builtin_profiles(weights)
    for name, table in tables.items():
        label = f"metrics.score_profiles.{name}"
        if name in defined:
            raise ConfigError(f"{label}: {name!r} is built in; define a profile with another name")
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{label}: profile names use 1 to 64 letters, digits, '_' and '-'")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{label}: must be a table")
        defined[name] = _profile(name, table, weights, label)

    active_name, active_label = _active_name(metrics, environ)
    if active_name not in defined:
        raise ConfigError(f"{active_label}: unknown profile {active_name!r} (defined: {', '.join(sorted(defined))})")
    active_table = tables.get(active_name, {})
    for weight, var in WEIGHT_ENV.items():
        if var in environ and weight in active_table:
            raise ConfigError(
                f"{var}: the active profile {active_name!r} sets {weight} itself "
                f"(metrics.score_profiles.{active_name}.{weight}); remove one of the two"
            )
    shadows = _shadows(metrics.get("shadow_profiles", []), defined, active_name)
    return ProfileSettings(defined[active_name], shadows, defined)


def _active_name(metrics: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, str]:
    if PROFILE_ENV in environ:
        return environ[PROFILE_ENV].strip(), f"metrics.score_profile ({PROFILE_ENV})"
    name = metrics.get("score_profile", "default")
    if not isinstance(name, str):
        raise ConfigError(f"metrics.score_profile: expected a profile name, got {name!r}")
    return name, "metrics.score_profile"


def _shadows(value: Any, defined: Mapping[str, ScoreProfile], active: str) -> tuple[ScoreProfile, ...]:
    label = "metrics.shadow_profiles"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{label}: expected a list of profile names, got {value!r}")
    for name in value:
        if name not in defined:
            raise ConfigError(f"{label}: unknown profile {name!r} (defined: {', '.join(sorted(defined))})")
        if name == active:
            raise ConfigError(f"{label}: {name!r} is the active profile (metrics.score_profile)")
        if value.count(name) > 1:
            raise ConfigError(f"{label}: {name!r} is listed twice")
    return tuple(defined[name] for name in value)


def _profile(name: str, table: Mapping[str, Any], base: ScoreWeights, label: str) -> ScoreProfile:
    formula = table.get("formula", "linear")
    if formula not in FORMULAS:
        raise ConfigError(f"{label}.formula: expected one of {', '.join(FORMULAS)}, got {formula!r}")
    allowed = _RISING_KEYS if formula == "rising" else _LINEAR_KEYS
    for key in sorted(set(table) - allowed):
        if key in _LINEAR_KEYS | _RISING_KEYS:
            raise ConfigError(f"{label}.{key}: not a parameter of the {formula} formula")
        raise ConfigError(f"{label}.{key}: unknown parameter")
    weights = ScoreWeights(
        posts=_number(table, "posts", base.posts, label),
        unique_authors=_number(table, "unique_authors", base.unique_authors, label),
        boosts=_number(table, "boosts", base.boosts, label),
    )
    cap = table.get("author_cap")
    rising = None
    if formula == "rising":
        baseline = _integer(table, "baseline_hours", 24, label, low=24)
        if baseline % 24:
            raise ConfigError(f"{label}.baseline_hours: must be whole days (a multiple of 24), got {baseline}")
        floor = _number(table, "expected_floor", 1.0, label)
        if floor <= 0:
            raise ConfigError(f"{label}.expected_floor: must be > 0, got {floor!r}")
        rising = RisingParameters(baseline, floor)
    count_self = table.get("count_self_boosts", True)
    if not isinstance(count_self, bool):
        raise ConfigError(f"{label}.count_self_boosts: expected true or false, got {count_self!r}")
    return ScoreProfile(
        name=name,
        formula=formula,
        weights=weights,
        min_authors=_integer(table, "min_authors", 0, label, low=0),
        author_cap=None if cap is None else _integer(table, "author_cap", 0, label, low=1),
        count_self_boosts=count_self,
        rising=rising,
    )


def _number(table: Mapping[str, Any], key: str, default: float, label: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{label}.{key}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"{label}.{key}: must be a finite number >= 0, got {value!r}")
    return number


def _integer(table: Mapping[str, Any], key: str, default: int, label: str, *, low: int) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{label}.{key}: expected a whole number, got {value!r}")
    if value < low:
        raise ConfigError(f"{label}.{key}: must be >= {low}, got {value}")
    return value
