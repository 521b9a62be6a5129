"""Compiles the ingest fold with mypyc when it can; everything else in pyproject.toml.

The modules in `observability/fold_build.py` (`FOLD_SOURCES`) run once per event and are bound by
the interpreter. mypyc compiles them, from the same typed source, to C extensions that fold about
a fifth faster at 100,000 topics (docs/benchmarks.md). The rest of the project stays Python.

- `KUKURI_TRENDING_COMPILE=0` builds pure Python, for a machine without a C compiler or to step
  through the fold in a debugger; it also removes extensions an earlier editable install left
  beside the sources, which would shadow them.
- Without mypy or a working C compiler, the build says why and falls back to pure Python; the
  worker logs which modules run compiled (`trending_stream.fold_build`).
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
FOLD_SOURCES: tuple[str, ...] = runpy.run_path(str(ROOT / "observability" / "fold_build.py"))["FOLD_SOURCES"]
GROUP = "kukuri_trending_fold"  # names the shared library of the compiled modules


def _warn(message: str) -> None:
    print(f"kukuri-trending: {message}; the fold stays pure Python", file=sys.stderr)


class _OptionalBuildExt(build_ext):
    """A failed compile leaves the modules in Python instead of failing the install: all of them,
    since a compiled module needs the group's shared library."""

    def run(self) -> None:
        self._failed = False
        try:
            super().run()
        except Exception as exc:
            _warn(f"compiling the fold failed ({exc})")
            self._failed = True
        if self._failed:
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            _warn(f"compiling {ext.name} failed ({exc})")
            self._failed = True


def _remove_extensions() -> None:
    for source in FOLD_SOURCES:
        path = ROOT / source
        for built in path.parent.glob(f"{path.stem}.*.so"):
            built.unlink()
    for built in ROOT.glob(f"{GROUP}__mypyc.*.so"):
        built.unlink()


def _extensions() -> list[Extension]:
    if os.environ.get("KUKURI_TRENDING_COMPILE", "1") == "0":
        _remove_extensions()
        return []
    try:
        from mypyc.build import mypycify

        return mypycify(list(FOLD_SOURCES), group_name=GROUP)
    except BaseException as exc:  # mypy missing, or its type check failed (it exits)
        _warn(f"mypyc could not prepare the fold ({exc!r})")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": _OptionalBuildExt})
