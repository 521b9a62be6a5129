"""The one shape of every error the read API answers with.

Handlers raise `ApiError`; the server's middleware turns it, and anything unexpected, into
`{"error": {"code", "message"}}` so a client never sees a stack trace.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request that cannot be answered, with the HTTP status and a stable machine-readable code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


class MetricsUnavailable(ApiError):
    """No committed snapshot and no live fallback: there is nothing honest to serve."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "metrics_unavailable", message)


class AppDatabaseUnavailable(ApiError):
    """Trending posts are live-only; without the app tables they cannot be answered."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "app_database_unavailable", message)
