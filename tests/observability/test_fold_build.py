"""The fold runs compiled and current, and a stale compiled module is told apart."""

from __future__ import annotations

import os
import types
from pathlib import Path

from observability.fold_build import FOLD_MODULES, FOLD_SOURCES, FoldBuild, fold_build, module_build


def test_the_fold_runs_compiled_unless_built_pure_python() -> None:
    build = fold_build()
    assert build.stale == (), f"compiled modules older than their source: {build.stale}; run `make install`"
    if os.environ.get("KUKURI_TRENDING_COMPILE") == "0":
        assert build.interpreted == FOLD_MODULES
    else:
        assert build.compiled == FOLD_MODULES, (
            f"{build.interpreted} run as Python: the install could not compile them (its output says why); "
            "set KUKURI_TRENDING_COMPILE=0 to build and test pure Python on purpose"
        )


def _module(tmp_path: Path, file_name: str) -> types.ModuleType:
    module = types.ModuleType("streams.sliding")
    module.__file__ = str(tmp_path / file_name)
    return module


def test_module_build_tells_a_source_a_current_extension_and_a_stale_one(tmp_path: Path) -> None:
    source = tmp_path / "sliding.py"
    extension = tmp_path / "sliding.cpython-311-x86_64-linux-gnu.so"
    source.write_text("")
    extension.write_bytes(b"")
    os.utime(source, (1_000, 1_000))
    os.utime(extension, (2_000, 2_000))
    assert module_build(_module(tmp_path, source.name)) == "interpreted"
    assert module_build(_module(tmp_path, extension.name)) == "compiled"
    os.utime(source, (3_000, 3_000))  # edited after the build
    assert module_build(_module(tmp_path, extension.name)) == "stale"
    source.unlink()
    assert module_build(_module(tmp_path, extension.name)) == "compiled"
    installed = tmp_path / "lib" / "site-packages" / "streams"
    installed.mkdir(parents=True)
    (installed / extension.name).write_bytes(b"")
    (installed / source.name).write_text("")  # unpacked after the extension: no build happened here
    assert module_build(_module(installed, extension.name)) == "compiled"


def test_the_compiled_modules_hold_no_doctests() -> None:
    """The root conftest.py leaves them out of doctest collection (pytest cannot collect a module
    whose compiled extension shadows it), so a doctest there would never run."""
    root = Path(__file__).parents[2]
    assert [path for path in FOLD_SOURCES if ">>>" in (root / path).read_text()] == []


def test_the_summary_names_what_runs() -> None:
    assert FoldBuild(FOLD_MODULES, (), ()).summary() == "fold compiled with mypyc"
    assert FoldBuild((), FOLD_MODULES, ()).summary() == "fold interpreted (pure Python)"
    assert FoldBuild(FOLD_MODULES[1:], FOLD_MODULES[:1], ()).summary().endswith(f"except {FOLD_MODULES[0]}")
    assert "STALE: streams.sliding" in FoldBuild(FOLD_MODULES[1:], (), ("streams.sliding",)).summary()
