"""The alerting settings: Sentry DSN, Slack channel and the table-size margin."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, load_settings


def test_defaults_report_nothing_to_sentry_and_post_to_alerts_trending() -> None:
    s = load_settings(environ={})
    assert s.alerts.sentry_dsn == ""
    assert s.alerts.slack_channel == "#alerts-trending"
    assert s.metrics.row_count_margin == 0.25


def test_the_sentry_dsn_comes_from_the_environment_too(tmp_path: Path) -> None:
    config = tmp_path / "app.toml"
    config.write_text('[alerts]\nsentry_dsn = "https://key@sentry.example/1"\nslack_channel = "#ops"\n'
                      "[metrics]\nrow_count_margin = 0.5\n")
    s = load_settings(config, environ={"KUKURI_SENTRY_DSN": "https://other@sentry.example/2"})
    assert s.alerts.sentry_dsn == "https://other@sentry.example/2"
    assert s.alerts.slack_channel == "#ops"
    assert s.metrics.row_count_margin == 0.5


@pytest.mark.parametrize(("toml", "env", "names"), [
    ("", {"KUKURI_SENTRY_DSN": "not-a-url"}, "alerts.sentry_dsn (KUKURI_SENTRY_DSN)"),
    ('[alerts]\nslack_channel = "#alerts trending"\n', {}, "alerts.slack_channel"),
    ("[metrics]\nrow_count_margin = -0.1\n", {}, "metrics.row_count_margin"),
])
def test_bad_values_name_the_setting(tmp_path: Path, toml: str, env: dict[str, str], names: str) -> None:
    config = tmp_path / "app.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=names.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, environ=env)


def test_the_replaced_row_limit_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "app.toml"
    config.write_text("[metrics]\nrow_count_warning = 100000\n")
    s = load_settings(config, environ={})
    assert s.metrics.row_count_margin == 0.25
    assert "row_count_warning is no longer used" in caplog.text


def test_a_rejected_dsn_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"KUKURI_SENTRY_DSN": "ftp://secret-key@sentry.example/1"})
    assert "secret-key" not in str(error.value)
