"""The worker says at start which of the fold's modules run compiled, and warns of stale ones."""

from __future__ import annotations

import logging

import pytest

import cli.worker_runtime
from observability.fold_build import FOLD_MODULES, FoldBuild
from observability.logs import FIELDS_ATTR


def _logged(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, build: FoldBuild) -> logging.LogRecord:
    monkeypatch.setattr(cli.worker_runtime, "fold_build", lambda: build)
    with caplog.at_level(logging.INFO, logger="kukuri_trending.worker"):
        cli.worker_runtime._log_fold_build()
    (record,) = [r for r in caplog.records if r.getMessage() == "trending_stream.fold_build"]
    return record


def test_a_current_build_is_logged_as_information(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    record = _logged(monkeypatch, caplog, FoldBuild(FOLD_MODULES, (), ()))
    assert record.levelno == logging.INFO
    assert getattr(record, FIELDS_ATTR) == {"compiled": FOLD_MODULES, "interpreted": ()}


def test_a_stale_compiled_module_is_a_warning_that_names_it(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    record = _logged(monkeypatch, caplog, FoldBuild(FOLD_MODULES[1:], (), FOLD_MODULES[:1]))
    fields = getattr(record, FIELDS_ATTR)
    assert record.levelno == logging.WARNING
    assert fields["stale"] == FOLD_MODULES[:1] and "make install" in fields["hint"]
