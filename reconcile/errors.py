"""The one error reconcile and backfill raise: a line an operator can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ReconcileError(Exception):
    """The app database could not be read or written; the message says which and why."""


@contextmanager
def database_errors(action: str, path: Path) -> Iterator[None]:
    """Turn SQLite and file-system errors into `ReconcileError("cannot <action> <path>: ...")`."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise ReconcileError(f"cannot {action} {path}: {exc}") from exc
