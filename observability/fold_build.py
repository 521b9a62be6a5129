"""Which modules of the ingest fold run compiled, and which compiled one is older than its source.

The fold runs once per event and is bound by the interpreter, so the build compiles its modules
to C extensions with mypyc (see `setup.py`), from the same typed source. An editable install puts
each extension beside its source, where Python imports it instead of the `.py` file: after that
file is edited, the extension is stale until the next install (`make` reinstalls by itself when
one of `FOLD_SOURCES` changed). The worker logs what it runs at start, and a test fails while an
extension is stale.

Only the standard library is imported here: `setup.py` reads `FOLD_SOURCES` before anything is
installed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

FOLD_SOURCES = ("streams/sliding.py", "streams/aggregation.py", "streams/state_keys.py", "agents/batch_fold.py")
FOLD_MODULES = tuple(path.removesuffix(".py").replace("/", ".") for path in FOLD_SOURCES)

ModuleBuild = Literal["compiled", "interpreted", "stale"]


@dataclass(frozen=True)
class FoldBuild:
    compiled: tuple[str, ...]
    interpreted: tuple[str, ...]
    stale: tuple[str, ...]
    """Compiled, but older than the source beside them: they run code that is no longer there."""

    def summary(self) -> str:
        """One line for benchmark headers."""
        if self.stale:
            return f"fold compiled with mypyc, STALE: {', '.join(self.stale)}"
        if not self.interpreted:
            return "fold compiled with mypyc"
        if not self.compiled:
            return "fold interpreted (pure Python)"
        return f"fold compiled with mypyc except {', '.join(self.interpreted)}"


def module_build(module: ModuleType) -> ModuleBuild:
    """Whether `module` was loaded from its source, or from an extension, stale or not."""
    path = Path(module.__file__ or "")
    if path.suffix == ".py":
        return "interpreted"
    if {"site-packages", "dist-packages"} & set(path.parts):
        return "compiled"  # installed from a wheel: built from the source shipped beside it
    source = path.with_name(module.__name__.rpartition(".")[2] + ".py")
    if source.exists() and source.stat().st_mtime > path.stat().st_mtime:
        return "stale"
    return "compiled"


def fold_build() -> FoldBuild:
    builds = {name: module_build(importlib.import_module(name)) for name in FOLD_MODULES}
    return FoldBuild(
        *(tuple(name for name, build in builds.items() if build == kind) for kind in ("compiled", "interpreted", "stale"))
    )
