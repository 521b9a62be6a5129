"""The build: the fold compiled into the wheel, pure Python on request, and pure Python (saying
why) when compiling fails. Real `pip wheel` runs on a copy of the tracked tree."""

from __future__ import annotations

import os
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from observability.fold_build import FOLD_MODULES

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[1]


@pytest.fixture
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy for each build: a build leaves its objects in the tree's `build/`, reused by the next."""
    tree = tmp_path_factory.mktemp("tree")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in tracked.decode().split("\0"):
        if name:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_bytes((ROOT / name).read_bytes())
    return tree


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new venv holding none of the project's dependencies, as on a fresh machine,
    where pip builds the project before it installs them: the build must not find them here."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=True)
    return root / "bin" / "python"


def _wheel(python: Path, tree: Path, out: Path, **env: str) -> tuple[set[str], str]:
    """(files in the wheel, what the build printed: pip shows it with -v)."""
    done = subprocess.run(
        [str(python), "-m", "pip", "wheel", "--no-deps", "-v", "--wheel-dir", str(out), str(tree)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return set(zipfile.ZipFile(wheel).namelist()), done.stdout + done.stderr


def _extensions(files: set[str]) -> set[str]:
    return {name.split(".")[0].replace("/", ".") for name in files if name.endswith(".so")}


def test_the_wheel_holds_the_compiled_fold(bare_python: Path, source_tree: Path, tmp_path: Path) -> None:
    files, output = _wheel(bare_python, source_tree, tmp_path)
    assert "the fold stays pure Python" not in output
    assert _extensions(files) == {*FOLD_MODULES, "kukuri_trending_fold__mypyc"}
    assert {path.replace(".", "/") + ".py" for path in FOLD_MODULES} <= files  # the source ships too


def test_compile_0_builds_pure_python(bare_python: Path, source_tree: Path, tmp_path: Path) -> None:
    files, _ = _wheel(bare_python, source_tree, tmp_path, KUKURI_TRENDING_COMPILE="0")
    assert _extensions(files) == set()


def test_a_failing_compiler_leaves_the_fold_in_python_and_says_why(
    bare_python: Path, source_tree: Path, tmp_path: Path
) -> None:
    files, output = _wheel(bare_python, source_tree, tmp_path, CC="false")
    assert _extensions(files) == set()
    assert "the fold stays pure Python" in output
