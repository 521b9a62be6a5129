"""Sort a failed snapshot run's error into "retry it now" and "retrying will not help".

`transient` errors are worth another attempt within the same run: the app holding a write lock on
SQLite, a timeout, a broker that is restarting or electing a leader, parts of a snapshot computed
with different score profiles during a rolling restart. `fatal` errors need a person
or a new release: the schema does not match (a migration is missing), the database file cannot be
written, the configuration is wrong. A fatal error is not retried: the sink stops the worker with a
clear log line and a non-zero exit, rather than failing the same way every five minutes.

Unknown errors are fatal: an unexpected exception is almost always a bug or a data problem that
fails the same way a second later, and retrying it in a tight loop only multiplies the log lines.
"""

from __future__ import annotations

import sqlite3
from typing import Final, Literal

from aiokafka import errors as kafka_errors

from config.settings import ConfigError
from sinks.database import DatabaseFileMissing
from sinks.storage.snapshots import ProfileMismatch

ErrorClass = Literal["transient", "fatal"]

# SQLite result codes (the primary part of `sqlite_errorname`) that clear by themselves, or once an
# operator frees space, makes the volume writable or restores the file: the worker keeps folding the
# stream meanwhile, so its snapshots resume exact without a restart.
_TRANSIENT_SQLITE: Final = (
    "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_NOTADB",
)
# Without a result code (an error built by hand or by a wrapper), the message decides.
_TRANSIENT_MESSAGES: Final = (
    "database is locked", "database table is locked", "database is busy", "database or disk is full",
    "disk i/o error", "attempt to write a readonly database", "file is not a database",
)
# Kafka errors not flagged `retriable` by aiokafka that still mean "the broker is not there yet".
_TRANSIENT_KAFKA: Final = (
    kafka_errors.KafkaTimeoutError,
    kafka_errors.BrokerNotAvailableError,
    kafka_errors.KafkaUnavailableError,
    kafka_errors.RebalanceInProgressError,
)


def classify(exc: BaseException) -> ErrorClass:
    """`transient` or `fatal` for an error raised by a snapshot run (see the module docstring).

    An error wrapped with `raise ... from err` is judged by its cause when it says nothing itself;
    an exception group is transient only if every member is.
    """
    if isinstance(exc, BaseExceptionGroup):
        return "transient" if all(classify(e) == "transient" for e in exc.exceptions) else "fatal"
    verdict = _own_class(exc)
    if verdict is None and exc.__cause__ is not None:
        return classify(exc.__cause__)
    return verdict or "fatal"


def _own_class(exc: BaseException) -> ErrorClass | None:
    if isinstance(exc, sqlite3.Error):
        return _sqlite_class(exc)
    if isinstance(exc, kafka_errors.KafkaError):
        return "transient" if exc.retriable or isinstance(exc, _TRANSIENT_KAFKA) else "fatal"
    if isinstance(exc, ConfigError | PermissionError):
        return "fatal"
    if isinstance(exc, ProfileMismatch):
        # Clears once every worker runs the same profiles (a rolling restart): retry, then count it
        # as a failed run, which alerts if it lasts.
        return "transient"
    # asyncio.TimeoutError is the builtin TimeoutError since Python 3.11.
    if isinstance(exc, TimeoutError | ConnectionError):
        return "transient"
    return None


def _sqlite_class(exc: sqlite3.Error) -> ErrorClass:
    if isinstance(exc, DatabaseFileMissing):
        return "transient"
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return "transient" if name.startswith(_TRANSIENT_SQLITE) else "fatal"
    message = str(exc).lower()
    return "transient" if any(m in message for m in _TRANSIENT_MESSAGES) else "fatal"
