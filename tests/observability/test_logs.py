"""Log lines: one JSON object each, kukuri's fields, libraries routed and quietened."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from observability.logs import LIBRARY_LOGGERS, log_event, setup_logging

ISO_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
log = logging.getLogger("kukuri_trending.test")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    library_levels = {name: logging.getLogger(name).level for name in (*LIBRARY_LOGGERS, "py.warnings")}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, lib_level in library_levels.items():
        logging.getLogger(name).setLevel(lib_level)
    logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_completed_event_has_the_contract_shape() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    log_event(log, "trending_metrics_job.completed", window="24h", topics=1234, duration_ms=820)
    [line] = lines(out)
    assert ISO_MS_UTC.match(line["time"])
    assert line["level"] == "INFO"
    assert line["target"] == "metrics::trending"
    assert line["event"] == "trending_metrics_job.completed"
    assert (line["window"], line["topics"], line["duration_ms"]) == ("24h", 1234, 820)
    assert line["logger"] == "kukuri_trending.test"


def test_extra_fields_work_with_plain_logging_calls() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    log.warning("retrying %s", "soon", extra={"event": "trending_metrics_job.retry", "attempt": 2})
    [line] = lines(out)
    assert line["message"] == "retrying soon"
    assert line["event"] == "trending_metrics_job.retry"
    assert line["attempt"] == 2


def test_fields_named_like_logrecord_attributes_are_kept() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    log_event(log, "topic.renamed", name="rust", module="x", process=7)
    [line] = lines(out)
    assert (line["name"], line["module"], line["process"]) == ("rust", "x", 7)


def test_fields_cannot_overwrite_the_envelope() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    log_event(log, "x.y", target="elsewhere", message="other", time="then")
    [line] = lines(out)
    assert (line["target"], line["message"]) == ("metrics::trending", "x.y")
    assert ISO_MS_UTC.match(line["time"])


def test_exceptions_stay_on_one_line() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    try:
        raise RuntimeError("database is locked\nsecond line")
    except RuntimeError as exc:
        log_event(log, "trending_metrics_job.failed", logging.ERROR, error=str(exc), exc_info=True)
        log.exception("plain", extra={"event": "plain.exception"})
    text = out.getvalue()
    assert len(text.splitlines()) == 2
    first, second = lines(out)
    assert first["exception"]["type"] == "RuntimeError"
    assert first["exception"]["message"] == "database is locked\nsecond line"
    assert "Traceback" in first["exception"]["traceback"]
    assert first["error"] == "database is locked\nsecond line"
    assert second["exception"]["type"] == "RuntimeError"


def test_values_that_are_not_json_are_written_as_text() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    log_event(log, "db.opened", path=Path("/data/kukuri.db"), partitions={1, 2} - {2})
    [line] = lines(out)
    assert line["path"] == "/data/kukuri.db"
    assert line["partitions"] == "{1}"


def test_libraries_are_routed_and_quiet_below_warning() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    logging.getLogger("aiokafka.consumer.group_coordinator").info("joined group")
    logging.getLogger("faust.transport").info("starting")
    logging.getLogger("mode.services").info("started")
    logging.getLogger("aiokafka.conn").warning("Tansu quirk")
    [line] = lines(out)
    assert line["message"] == "Tansu quirk"
    assert line["logger"] == "aiokafka.conn"
    assert line["level"] == "WARNING"
    assert line["target"] == "metrics::trending"


def test_debug_opens_libraries_up_to_info() -> None:
    out = io.StringIO()
    setup_logging("json", "DEBUG", stream=out)
    logging.getLogger("aiokafka.conn").debug("bytes")
    logging.getLogger("aiokafka.conn").info("connected")
    log.debug("ours")
    assert [line["message"] for line in lines(out)] == ["connected", "ours"]


def test_level_filters_our_lines_too() -> None:
    out = io.StringIO()
    setup_logging("json", "WARNING", stream=out)
    log_event(log, "quiet.info")
    log_event(log, "loud.warning", logging.WARNING)
    assert [line["event"] for line in lines(out)] == ["loud.warning"]


def test_python_warnings_become_log_lines() -> None:
    out = io.StringIO()
    setup_logging("json", "INFO", stream=out)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old API", DeprecationWarning, stacklevel=1)
    [line] = lines(out)
    assert line["logger"] == "py.warnings"
    assert "old API" in line["message"]


def test_calling_again_replaces_the_handler_instead_of_doubling_lines() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("json", "INFO", stream=first)
    setup_logging("json", "INFO", stream=second)
    log_event(log, "once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 1


def test_auto_writes_json_when_not_a_terminal_and_console_on_one() -> None:
    piped, tty = io.StringIO(), Terminal()
    setup_logging("auto", "INFO", stream=piped)
    log_event(log, "trending_metrics_job.completed", topics=3)
    setup_logging("auto", "INFO", stream=tty)
    log_event(log, "trending_metrics_job.completed", topics=3)
    assert lines(piped)[0]["topics"] == 3
    console = tty.getvalue()
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} INFO +trending_metrics_job\.completed topics=3$", console.strip())


def test_console_shows_tracebacks_for_people() -> None:
    out = Terminal()
    setup_logging("console", "INFO", stream=out)
    try:
        raise ValueError("bad row")
    except ValueError:
        log.exception("snapshot failed")
    text = out.getvalue()
    assert "[kukuri_trending.test] snapshot failed" in text
    assert "Traceback" in text and "ValueError: bad row" in text


def test_forced_json_on_a_terminal() -> None:
    out = Terminal()
    setup_logging("json", "INFO", stream=out)
    log_event(log, "x")
    assert lines(out)[0]["event"] == "x"


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("json", "INFO")
    log_event(log, "to.stderr")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert json.loads(captured.err.splitlines()[-1])["event"] == "to.stderr"
    assert sys.stderr is not None


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        setup_logging("json", "LOUD", stream=io.StringIO())
