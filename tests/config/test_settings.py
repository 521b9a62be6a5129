from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, ScoreWeights, load_settings


def test_defaults_match_the_contract() -> None:
    s = load_settings(environ={})
    assert s.metrics.enabled and s.metrics.interval_minutes == 5 and s.metrics.ttl_hours == 48
    assert s.metrics.prometheus_port == 0 and not s.metrics.emit_histogram
    assert s.metrics.score_weights == ScoreWeights(0.6, 0.3, 0.1)
    assert s.kafka.broker == "embedded" and s.kafka.events_topic == "kukuri.trending.events"
    assert s.kafka.dlq_topic == "kukuri.trending.events.dlq"
    assert (s.api.host, s.api.port) == ("127.0.0.1", 8080)


def test_environment_overrides_every_contract_variable(tmp_path: Path) -> None:
    s = load_settings(environ={
        "KUKURI_METRICS_ENABLED": "off", "KUKURI_METRICS_INTERVAL_MINUTES": "15", "KUKURI_METRICS_TTL_HOURS": "72",
        "KUKURI_METRICS_WEIGHT_POSTS": "1.5", "KUKURI_METRICS_WEIGHT_UNIQUE_AUTHORS": "0",
        "KUKURI_METRICS_WEIGHT_BOOSTS": "0.25", "KUKURI_METRICS_PROMETHEUS_PORT": "9898",
        "KUKURI_METRICS_EMIT_HISTOGRAM": "yes", "KUKURI_KAFKA_BROKER": "kafka://k1:9092,k2:9092",
        "KUKURI_DATABASE_PATH": str(tmp_path / "x.db"), "KUKURI_API_HOST": "0.0.0.0", "KUKURI_API_PORT": "9000",
    })
    assert not s.metrics.enabled and s.metrics.interval_minutes == 15 and s.metrics.ttl_hours == 72
    assert s.metrics.score_weights == ScoreWeights(1.5, 0.0, 0.25)
    assert s.metrics.prometheus_port == 9898 and s.metrics.emit_histogram
    assert s.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert s.database.path == tmp_path / "x.db"
    assert (s.api.host, s.api.port) == ("0.0.0.0", 9000)


def test_history_ttl_defaults_to_a_week_and_0_keeps_history(tmp_path: Path) -> None:
    assert load_settings(environ={}).metrics.history_ttl_hours == 168
    config = tmp_path / "app.toml"
    config.write_text("[metrics]\nhistory_ttl_hours = 24\n")
    assert load_settings(config, environ={}).metrics.history_ttl_hours == 24
    assert load_settings(config, environ={"KUKURI_METRICS_HISTORY_TTL_HOURS": "0"}).metrics.history_ttl_hours == 0


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[metrics]\nttl_hours = 24\n[metrics.extra_windows]\n"1h" = 60\n"7d" = 10080\n')
    s = load_settings(config, environ={"KUKURI_METRICS_TTL_HOURS": "12"})
    assert s.metrics.ttl_hours == 12
    assert dict(s.metrics.extra_windows) == {"1h": 60, "7d": 10080}


@pytest.mark.parametrize(
    ("environ", "toml", "names"),
    [
        ({"KUKURI_METRICS_ENABLED": "maybe"}, "", "KUKURI_METRICS_ENABLED"),
        ({"KUKURI_METRICS_INTERVAL_MINUTES": "7"}, "", "metrics.interval_minutes"),
        ({"KUKURI_METRICS_WEIGHT_POSTS": "-1"}, "", "KUKURI_METRICS_WEIGHT_POSTS"),
        ({"KUKURI_METRICS_PROMETHEUS_PORT": "70000"}, "", "KUKURI_METRICS_PROMETHEUS_PORT"),
        ({"KUKURI_KAFKA_BROKER": "localhost:9092"}, "", "kafka.broker"),
        ({"KUKURI_API_PORT": "http"}, "", "KUKURI_API_PORT"),
        ({}, "[metrics]\nintervall_minutes = 5\n", "metrics.intervall_minutes"),
        ({}, "[metrics.extra_windows]\n\"1h\" = 61\n", "metrics.extra_windows.1h"),
        ({}, "[kafka]\npartitions = 0\n", "kafka.partitions"),
        ({}, "[metrics]\nscore_profile = \"spiky\"\n", "metrics.score_profile"),
        ({}, "[nonsense]\n", "nonsense"),
        ({"KUKURI_METRICS_HISTORY_TTL_HOURS": "-1"}, "", "KUKURI_METRICS_HISTORY_TTL_HOURS"),
        ({}, "[metrics]\nhistory_ttl_hours = 1.5\n", "metrics.history_ttl_hours"),
    ],
)
def test_invalid_values_name_the_setting(tmp_path: Path, environ: dict[str, str], toml: str, names: str) -> None:
    config = tmp_path / "app.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=names.replace(".", r"\.")):
        load_settings(config, environ=environ)


def test_score_profiles(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[metrics]\nscore_profile = "boosty"\n[metrics.score_profiles.boosty]\nboosts = 1.0\n')
    metrics = load_settings(config, environ={}).metrics
    assert metrics.profiles.active.weights == ScoreWeights(0.6, 0.3, 1.0)
    assert metrics.score_weights == ScoreWeights()  # the default profile's, inherited by the others


def test_weight_overrides_reach_every_profile_that_does_not_set_the_weight(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[metrics]\nscore_profile = "boosty"\nshadow_profiles = ["default"]\n'
                      '[metrics.score_profiles.boosty]\nboosts = 1.0\n')
    metrics = load_settings(config, environ={"KUKURI_METRICS_WEIGHT_POSTS": "2"}).metrics
    assert metrics.profiles.active.weights == ScoreWeights(2.0, 0.3, 1.0)
    assert metrics.profiles.shadows[0].weights == ScoreWeights(2.0, 0.3, 0.1)
    assert metrics.shadow_profiles == ("default",)
    with pytest.raises(ConfigError, match=r"KUKURI_METRICS_WEIGHT_BOOSTS.*boosty"):
        load_settings(config, environ={"KUKURI_METRICS_WEIGHT_BOOSTS": "2"})


def test_the_active_profile_comes_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[metrics.score_profiles.surging]\nformula = "rising"\n')
    metrics = load_settings(config, environ={"KUKURI_METRICS_SCORE_PROFILE": "surging"}).metrics
    assert (metrics.score_profile, metrics.profiles.active.formula) == ("surging", "rising")
    with pytest.raises(ConfigError, match=r"KUKURI_METRICS_SCORE_PROFILE.*'nope'"):
        load_settings(config, environ={"KUKURI_METRICS_SCORE_PROFILE": "nope"})


@pytest.mark.parametrize(
    ("toml", "name", "cap", "own"),
    [
        ('[metrics]\nshadow_profiles = ["rising"]\n', "rising", 5, False),
        ('[metrics]\nscore_profile = "fair"\n[metrics.score_profiles.fair]\nauthor_cap = 3\n', "fair", 3, True),
        ('[metrics]\nshadow_profiles = ["own"]\n[metrics.score_profiles.own]\ncount_self_boosts = false\n',
         "own", None, False),
    ],
)
def test_profiles_with_author_caps_or_without_self_boosts_are_computed(
    tmp_path: Path, toml: str, name: str, cap: int | None, own: bool
) -> None:
    config = tmp_path / "app.toml"
    config.write_text(toml)
    computed = {p.name: p for p in load_settings(config, environ={}).metrics.profiles.computed}
    assert (computed[name].author_cap, computed[name].count_self_boosts) == (cap, own)


def test_defined_but_unused_profiles_with_caps_are_fine(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[metrics.score_profiles.fair]\nauthor_cap = 3\n')
    assert load_settings(config, environ={}).metrics.profiles.defined["fair"].author_cap == 3
