"""Validation of query parameters and feed messages: bad input is a 400 that says what is wrong.

Unknown and repeated parameters are rejected too, so a typo (`limt=5`) is reported instead of
being silently answered with the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Final

from multidict import MultiMapping

from api.errors import bad_request

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
DEFAULT_PER_TOPIC: Final = 3
MAX_PER_TOPIC: Final = 20
MAX_TOPIC_IDS: Final = 50
MAX_TOPIC_ID_LENGTH: Final = 128

_DIGITS = re.compile(r"[0-9]{1,9}")
_EPOCH_MS = re.compile(r"[0-9]{1,15}")


def check_names(query: MultiMapping[str], allowed: Collection[str]) -> None:
    for name in query:
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise bad_request("unknown_parameter", f"unknown query parameter {name!r} (allowed: {known})")
        if len(query.getall(name)) > 1:
            raise bad_request("repeated_parameter", f"query parameter {name!r} is given more than once")


def int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not _DIGITS.fullmatch(text):
        raise bad_request(f"invalid_{name}", f"{name} must be an integer between {low} and {high}, got {text!r}")
    return in_range(name, int(text), low, high)


def time_param(query: Mapping[str, str], name: str) -> int | None:
    """A time in epoch milliseconds; None when absent."""
    text = query.get(name)
    if text is None:
        return None
    if not _EPOCH_MS.fullmatch(text):
        raise bad_request(f"invalid_{name}", f"{name} must be a time in epoch milliseconds, got {text!r}")
    return int(text)


def in_range(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise bad_request(f"invalid_{name}", f"{name} must be between {low} and {high}, got {value}")
    return value


def topic_ids_param(query: Mapping[str, str], name: str = "topic_ids") -> tuple[str, ...] | None:
    """Comma-separated topic ids (at most 50 items), in request order, duplicates dropped; None when absent.

    The item count includes duplicates, so the rule is one a JSON-schema pattern can state.
    """
    text = query.get(name)
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) > MAX_TOPIC_IDS:
        raise bad_request("invalid_topic_ids", f"{name} may list at most {MAX_TOPIC_IDS} ids, got {len(parts)}")
    for part in parts:
        if not 1 <= len(part) <= MAX_TOPIC_ID_LENGTH:
            raise bad_request(
                "invalid_topic_ids",
                f"{name} must be a comma-separated list of ids of 1..{MAX_TOPIC_ID_LENGTH} characters "
                "without empty items",
            )
    return tuple(dict.fromkeys(parts))


def feed_limit(message: str) -> int:
    """The `limit` of a feed client's `{"limit": N}` message."""
    try:
        body: Any = json.loads(message)
    except ValueError:
        raise bad_request("invalid_message", 'expected a JSON object like {"limit": 10}') from None
    if not isinstance(body, dict) or set(body) != {"limit"}:
        raise bad_request("invalid_message", 'expected a JSON object with exactly one key: {"limit": N}')
    limit = body["limit"]
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise bad_request("invalid_limit", f"limit must be an integer between 1 and {MAX_LIMIT}")
    return in_range("limit", limit, 1, MAX_LIMIT)

