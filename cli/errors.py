"""Turn the failures an operator can fix into one line that names the problem and the setting.

Commands raise `OperatorError` for problems they recognise themselves; `describe` translates the
usual exceptions from the broker, SQLite and the file system that reach `cli.main`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aiokafka.errors import KafkaConnectionError, KafkaError

from broker.embedded import BrokerError
from config.settings import Settings

DATABASE = "database.path (KUKURI_DATABASE_PATH)"
STATE_DIR = "stream.data_dir (KUKURI_STATE_DIR)"
BROKER = "kafka.broker (KUKURI_KAFKA_BROKER)"


class OperatorError(Exception):
    """A problem in the environment or the settings; the message says what to change."""


def require_database(settings: Settings) -> None:
    """Commands other than `run` and `migrate` never create the app database: a mistyped path
    must fail here instead of yielding a new, empty database the real app never sees."""
    path = settings.database.path
    if path.is_file():
        return
    if path.exists():
        raise OperatorError(f"{DATABASE}: {path} is not a file")
    raise OperatorError(
        f"{DATABASE}: {path} does not exist; check the path, or create the database with `kukuri-trending migrate`"
    )


def check_database_location(settings: Settings) -> None:
    """For the commands that may create the database: its directory can be made, and it is not a directory."""
    path = settings.database.path
    if path.is_dir():
        raise OperatorError(f"{DATABASE}: {path} is a directory, not a database file")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OperatorError(f"{DATABASE}: cannot create {path}: {parent} is not a directory")
            break


def _setting_for(filename: str | None, settings: Settings) -> str | None:
    if not filename:
        return None
    path = Path(filename).absolute()
    database = settings.database.path.absolute()
    if path in (database, database.parent) or path in database.parents or str(path).startswith(f"{database}-"):
        return DATABASE
    state = settings.stream.data_dir.absolute()
    if path == state or state in path.parents or path in state.parents:
        return STATE_DIR
    return None


def describe(exc: BaseException, settings: Settings) -> str | None:
    """One line for a failure an operator can act on, or None for anything else (a defect)."""
    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, KafkaConnectionError):
        return f"cannot reach the Kafka broker ({exc}); check {BROKER} and that the broker is running"
    if isinstance(exc, BrokerError | KafkaError):
        return f"{exc}; check {BROKER} and that the broker is running"
    if isinstance(exc, sqlite3.Error):
        return f"{DATABASE}: cannot use {settings.database.path}: {exc}"
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc)
        where = f"{exc.filename}: " if exc.filename else ""
        setting = _setting_for(exc.filename, settings)
        return f"{setting}: {where}{what}" if setting else f"{where}{what}"
    return None
