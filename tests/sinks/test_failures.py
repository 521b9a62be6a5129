"""Errors are classified from what SQLite, aiokafka and asyncio really raise."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka import errors as kafka_errors

from config.settings import ConfigError, load_settings
from sinks.database import DatabaseFileMissing, connect_writer
from sinks.failures import classify


def raised(action) -> BaseException:
    try:
        action()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "kukuri.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE topic_metrics (topic_id TEXT PRIMARY KEY, posts_24h INTEGER)")
    return path


def test_a_write_lock_held_by_the_app_is_transient(db: Path) -> None:
    app = sqlite3.connect(db, isolation_level=None)
    app.execute("BEGIN IMMEDIATE")
    try:
        sink = sqlite3.connect(db, timeout=0)
        exc = raised(lambda: sink.execute("INSERT INTO topic_metrics VALUES ('t', 1)"))
        sink.close()
    finally:
        app.execute("ROLLBACK")
        app.close()
    assert isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
    assert classify(exc) == "transient"


def test_a_missing_table_is_fatal(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        exc = raised(lambda: conn.execute("SELECT * FROM trending_runs"))
    assert "no such table" in str(exc)
    assert classify(exc) == "fatal"


@pytest.mark.parametrize(
    "sql", ["SELECT score_7d FROM topic_metrics", "INSERT INTO topic_metrics (topic_id, score_7d) VALUES ('t', 1)"]
)
def test_a_missing_column_is_fatal(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as conn:
        exc = raised(lambda: conn.execute(sql))
    assert "no such column" in str(exc) or "has no column" in str(exc)
    assert classify(exc) == "fatal"


def test_a_read_only_database_is_transient(db: Path) -> None:
    # The volume may be made writable again; the worker keeps its state and retries.
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    exc = raised(lambda: conn.execute("INSERT INTO topic_metrics VALUES ('t', 1)"))
    conn.close()
    assert "readonly database" in str(exc)
    assert classify(exc) == "transient"


def test_an_unopenable_file_is_fatal(tmp_path: Path) -> None:
    exc = raised(lambda: sqlite3.connect(tmp_path / "missing-dir" / "kukuri.db"))
    assert "unable to open database file" in str(exc)
    assert classify(exc) == "fatal"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("database is locked", "transient"),
        ("database table is locked", "transient"),
        ("database is busy", "transient"),
        ("no such table: topic_metrics", "fatal"),
        ("table topic_metrics has no column named score_7d", "fatal"),
        ("attempt to write a readonly database", "transient"),
        ("database or disk is full", "transient"),
        ("file is not a database", "transient"),
        ("unable to open database file", "fatal"),
        ("disk I/O error", "transient"),
    ],
)
def test_hand_built_sqlite_errors_are_judged_by_message(message: str, expected: str) -> None:
    # Wrappers and tests raise these without SQLite's result code attached.
    assert classify(sqlite3.OperationalError(message)) == expected


def test_a_file_replaced_by_one_that_is_not_a_database_is_transient(tmp_path: Path) -> None:
    # Restoring the right file clears it; the worker reopens the path and resumes.
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    conn = sqlite3.connect(path)
    exc = raised(lambda: conn.execute("SELECT * FROM sqlite_master"))
    conn.close()
    assert isinstance(exc, sqlite3.DatabaseError)
    assert classify(exc) == "transient"


def test_a_deleted_database_file_is_transient(tmp_path: Path) -> None:
    exc = raised(lambda: asyncio.run(connect_writer(tmp_path / "gone.db", create=False)))
    assert isinstance(exc, DatabaseFileMissing) and not (tmp_path / "gone.db").exists()
    assert classify(exc) == "transient"


async def test_an_unreachable_broker_is_transient() -> None:
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", request_timeout_ms=1000)
    with pytest.raises(kafka_errors.KafkaError) as info:
        await producer.start()
    await producer.stop()
    assert classify(info.value) == "transient"


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.KafkaConnectionError(),
        kafka_errors.NodeNotReadyError(),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.NoBrokersAvailable(),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.LeaderNotAvailableError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.BrokerNotAvailableError(),
        kafka_errors.KafkaUnavailableError(),
        kafka_errors.RebalanceInProgressError(),
    ],
    ids=type,
)
def test_broker_unavailability_is_transient(error: BaseException) -> None:
    assert classify(error) == "transient"


@pytest.mark.parametrize(
    "error",
    [
        kafka_errors.TopicAuthorizationFailedError(),
        kafka_errors.UnsupportedVersionError(),
        kafka_errors.IllegalStateError(),
    ],
    ids=type,
)
def test_kafka_errors_that_need_a_person_are_fatal(error: BaseException) -> None:
    assert classify(error) == "fatal"


async def test_timeouts_are_transient() -> None:
    with pytest.raises(TimeoutError) as info:
        await asyncio.wait_for(asyncio.sleep(1), timeout=0.001)
    assert classify(info.value) == "transient"


@pytest.mark.parametrize("error", [ConnectionRefusedError(), ConnectionResetError(), BrokenPipeError()], ids=type)
def test_dropped_connections_are_transient(error: BaseException) -> None:
    assert classify(error) == "transient"


def test_permission_denied_is_fatal(tmp_path: Path) -> None:
    assert classify(PermissionError(13, "Permission denied", str(tmp_path))) == "fatal"


def test_bad_configuration_is_fatal() -> None:
    exc = raised(lambda: load_settings(environ={"KUKURI_METRICS_INTERVAL_MINUTES": "7"}))
    assert isinstance(exc, ConfigError)
    assert classify(exc) == "fatal"


@pytest.mark.parametrize(
    "error", [ValueError("row ends at 5"), KeyError("topic"), RuntimeError(), OSError(28, "No space left")]
)
def test_unknown_errors_are_fatal(error: BaseException) -> None:
    assert classify(error) == "fatal"


def test_a_wrapped_error_is_judged_by_its_cause() -> None:
    def wrap(cause: BaseException) -> BaseException:
        try:
            raise RuntimeError("snapshot write failed") from cause
        except RuntimeError as exc:
            return exc

    assert classify(wrap(sqlite3.OperationalError("database is locked"))) == "transient"
    assert classify(wrap(sqlite3.OperationalError("no such table: x"))) == "fatal"


def test_a_group_is_transient_only_if_every_member_is() -> None:
    locked = sqlite3.OperationalError("database is locked")
    assert classify(ExceptionGroup("parts", [locked, TimeoutError()])) == "transient"
    assert classify(ExceptionGroup("parts", [locked, PermissionError()])) == "fatal"


def test_cancellation_is_never_retried() -> None:
    assert classify(asyncio.CancelledError()) == "fatal"
