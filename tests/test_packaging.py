"""What the package states about itself is true: every third-party module the code imports is a
declared dependency with a lower bound, the licence matches, and the event schema is package data."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# The project's own packages, as pyproject declares them ("streams*" -> "streams").
PACKAGES = tuple(p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])


def imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


def declared() -> dict[str, str]:
    """Normalised distribution name -> its requirement string."""
    result = {}
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        result[re.sub(r"[-_.]+", "-", name).lower()] = requirement
    return result


def test_every_imported_third_party_module_is_a_declared_dependency_with_a_lower_bound() -> None:
    distributions = packages_distributions()
    requirements = declared()
    modules = imported_top_level_modules()
    assert {"aiohttp", "aiokafka", "faust", "mode", "multidict"} <= modules
    for module in sorted(modules):
        (distribution, *_) = distributions[module]
        requirement = requirements.get(re.sub(r"[-_.]+", "-", distribution).lower())
        assert requirement is not None, f"{module} (from {distribution}) is imported but not a declared dependency"
        assert ">=" in requirement, f"{requirement}: no lower bound"


def test_the_licence_file_matches_the_metadata() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License\n")
    assert "LICENSE" in PYPROJECT["project"]["license-files"]


def test_the_event_schema_is_package_data() -> None:
    package_data = PYPROJECT["tool"]["setuptools"]["package-data"]
    assert "schemas/*.json" in package_data["streams"]
    assert (REPO / "streams" / "schemas" / "event-v1.json").is_file()
