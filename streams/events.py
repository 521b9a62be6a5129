"""The one event model (CONTRACT section 1) shared by the producer, the worker and the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

Kind = Literal["post", "reply", "boost", "bookmark", "delete"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
SCHEMA_VERSION: Final = 1
MAX_ID_LENGTH: Final = 128

# Reasons an event is dead-lettered; they label the dead-letter counter, so keep them few and stable.
DeadLetterReason = Literal[
    "invalid_json", "not_an_object", "missing_field", "wrong_type", "bad_value",
    "unknown_kind", "unsupported_version", "future_timestamp", "key_mismatch", "unprocessable",
]


class InvalidEvent(ValueError):
    """An event that breaks the contract; `reason` labels the dead-letter counter."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: DeadLetterReason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Event:
    """One fact about one topic. Its identity is `(topic_id, event_id)`."""

    event_id: str
    kind: Kind
    topic_id: str
    author: str
    created_at: int
    target_id: str | None = None
    v: int = SCHEMA_VERSION

    @property
    def identity(self) -> tuple[str, str]:
        return (self.topic_id, self.event_id)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "v": self.v, "event_id": self.event_id, "kind": self.kind, "topic_id": self.topic_id,
            "author": self.author, "created_at": self.created_at,
        }
        if self.target_id is not None:
            body["target_id"] = self.target_id
        return body

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    def key(self) -> bytes:
        """Kafka key: the topic id, so one topic's facts share a partition and its state."""
        return self.topic_id.encode()


_STRING_FIELDS: Final = ("event_id", "topic_id", "author")


def event_from_mapping(body: Any, *, now_ms: int | None = None, max_skew_ms: int = 300_000) -> Event:
    """Validate a decoded JSON value against the contract.

    `now_ms` enables the future-timestamp check (`created_at` more than `max_skew_ms` ahead).
    """
    if not isinstance(body, dict):
        raise InvalidEvent("not_an_object", f"expected a JSON object, got {type(body).__name__}")
    version = body.get("v")
    if version is None:
        raise InvalidEvent("missing_field", "v")
    if type(version) is not int:
        raise InvalidEvent("wrong_type", "v must be an integer")
    if version != SCHEMA_VERSION:
        raise InvalidEvent("unsupported_version", f"v={version}")
    kind = body.get("kind")
    if kind is None:
        raise InvalidEvent("missing_field", "kind")
    if not isinstance(kind, str):
        raise InvalidEvent("wrong_type", "kind must be a string")
    if kind not in KINDS:
        raise InvalidEvent("unknown_kind", f"kind={kind[:40]!r}")
    for name in _STRING_FIELDS:
        _check_id(body, name)
    created_at = body.get("created_at")
    if created_at is None:
        raise InvalidEvent("missing_field", "created_at")
    if type(created_at) is not int:
        raise InvalidEvent("wrong_type", "created_at must be an integer (epoch ms)")
    if created_at < 0 or created_at >= 1 << 63:
        raise InvalidEvent("bad_value", "created_at out of range")
    if now_ms is not None and created_at > now_ms + max_skew_ms:
        raise InvalidEvent("future_timestamp", f"created_at is {created_at - now_ms} ms in the future")
    target = body.get("target_id")
    if kind == "post":
        if target is not None:
            raise InvalidEvent("bad_value", "a post has no target_id")
    else:
        if target is None:
            raise InvalidEvent("missing_field", f"target_id is required for {kind}")
        _check_id(body, "target_id")
    return Event(
        event_id=body["event_id"], kind=kind, topic_id=body["topic_id"], author=body["author"],
        created_at=created_at, target_id=target,
    )


def parse_event(raw: bytes | None, *, now_ms: int | None = None, max_skew_ms: int = 300_000) -> Event:
    """Decode and validate one Kafka value; raises `InvalidEvent` with a dead-letter reason."""
    if raw is None:
        raise InvalidEvent("invalid_json", "empty value")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent("invalid_json", str(exc)[:200]) from None
    return event_from_mapping(body, now_ms=now_ms, max_skew_ms=max_skew_ms)


def _check_id(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is None:
        raise InvalidEvent("missing_field", name)
    if not isinstance(value, str):
        raise InvalidEvent("wrong_type", f"{name} must be a string")
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise InvalidEvent("bad_value", f"{name} must be 1..{MAX_ID_LENGTH} characters")
    if "\x00" in value:
        # NUL separates the parts of state keys (see streams.state_keys).
        raise InvalidEvent("bad_value", f"{name} must not contain NUL")
    try:
        value.encode()
    except UnicodeEncodeError:
        # JSON allows lone surrogates ("\ud800"); they cannot become a key or a database value.
        raise InvalidEvent("bad_value", f"{name} is not valid Unicode") from None
