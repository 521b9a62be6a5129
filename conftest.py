"""Doctest collection (`--doctest-modules` over `streams/`): the fold's modules are compiled, and
pytest cannot collect a module from its source while the compiled extension shadows it. They hold
no doctests; their tests are in `tests/`, and run on the interpreted source too
(`scripts/test-interpreted-fold.sh`)."""

from observability.fold_build import FOLD_SOURCES

collect_ignore = list(FOLD_SOURCES)
