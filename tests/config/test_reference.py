"""docs/configuration.md is generated from the settings code and kept current; the defaults agree everywhere."""

from __future__ import annotations

import re
from pathlib import Path

from config.reference import render
from config.settings import ENV_OVERRIDES, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_current() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == render(), "docs/configuration.md is out of date: run `python -m config.reference > docs/configuration.md`"


def test_the_packaged_app_toml_holds_the_documented_defaults() -> None:
    assert load_settings(environ={}) == Settings()


def test_every_environment_variable_names_a_real_setting() -> None:
    defaults = Settings()
    for var, dotted in ENV_OVERRIDES:
        node: object = defaults
        for part in dotted.split("."):
            assert hasattr(node, part), (var, dotted)
            node = getattr(node, part)


def test_the_readme_lists_every_environment_variable() -> None:
    readme = (REPO / "README.md").read_text()
    listed = set(re.findall(r"`(KUKURI_[A-Z_]+)`", readme))
    assert {var for var, _ in ENV_OVERRIDES} | {"KUKURI_CONFIG"} <= listed
