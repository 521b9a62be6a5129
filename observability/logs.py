"""Log lines as kukuri writes them: one JSON object per line under `"target": "metrics::trending"`.

Every line carries `time` (ISO-8601 UTC, milliseconds), `level`, `target`, `event` (a stable dotted
name operators grep and alert on, e.g. `trending_metrics_job.completed`), `message`, and the
structured fields of the call. An exception becomes an `exception` object in the same line, so a
log shipper never splits a traceback into separate records. On a terminal the same records are
written for humans instead.

Libraries log through the same handler: faust, mode and aiokafka are kept at WARNING (they are
chatty at INFO: every rebalance, fetch-session and broker quirk of Tansu), unless DEBUG is asked for.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

LogFormat = Literal["auto", "json", "console"]

TARGET: Final = "metrics::trending"
# Where `log_event` puts its fields: a single attribute, so field names such as `name`, `module`
# or `process` cannot collide with the LogRecord attributes of the same name.
FIELDS_ATTR: Final = "kukuri_fields"
LIBRARY_LOGGERS: Final = ("faust", "mode", "aiokafka")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))
) | {"message", "asctime", "taskName", FIELDS_ATTR}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}
    fields.update(getattr(record, FIELDS_ATTR, None) or {})
    return fields


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, never more than one line."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        event = fields.pop("event", None) or record.name
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "target": TARGET,
            "event": event,
            "message": record.getMessage(),
        }
        for key, value in fields.items():
            line.setdefault(key, value)
        line["logger"] = record.name
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["exception"] = {
                "type": type(exc).__qualname__,
                "message": str(exc),
                "traceback": "".join(traceback.format_exception(exc)),
            }
        elif record.stack_info:
            line["stack"] = record.stack_info
        # default=str: a field that is not JSON (a Path, a datetime) must not lose the whole line.
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS.mmm LEVEL event message key=value ...` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        event = fields.pop("event", None)
        message = record.getMessage()
        parts = [_time(record)[11:23], f"{record.levelname:<7}"]
        if event and event != message:
            parts.append(str(event))
        elif not event:
            parts.append(f"[{record.name}]")
        parts.append(message)
        parts.extend(f"{k}={v}" for k, v in fields.items())
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


_HANDLER_MARK: Final = "_kukuri_trending_handler"


def setup_logging(fmt: LogFormat, level: str, *, stream: TextIO | None = None) -> None:
    """Send all logging (ours and the libraries') to stderr in `fmt`; safe to call again.

    `auto` writes JSON unless stderr is a terminal. Handlers installed by others (pytest's
    capture, say) are left alone; only a previous handler of ours is replaced.
    """
    out = sys.stderr if stream is None else stream
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    library_level = logging.INFO if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    logging.captureWarnings(True)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `event` with structured `fields`, e.g.
    `log_event(log, "trending_metrics_job.completed", window="24h", topics=3, duration_ms=12)`.

    The message is the event name; pass `exc_info=True` (or an exception) to attach one.
    """
    exc_info = fields.pop("exc_info", None)
    logger.log(level, event, extra={"event": event, FIELDS_ATTR: fields}, exc_info=exc_info, stacklevel=2)
