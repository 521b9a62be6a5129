"""The one event model shared by the producer, the worker and the tests, and its decoder.

`parse_event` turns any bytes into an `Event` or raises `InvalidEvent` with a dead-letter reason;
nothing else escapes it, whatever the bytes (deep nesting, huge numbers, invalid UTF-8 ...), so
no record can stop the consume loop from inside the decoder.

Decoding takes two paths with one meaning. The fast path decodes straight into a typed msgspec
struct (~1 µs) and accepts only events that pass every rule. Anything it does not accept is
decoded again by the reference path, `json.loads` plus `event_from_mapping`, which states the rules
one by one and picks the reason; so the reasons never depend on which decoder noticed a fault
first, and the fast path can only be wrong by sending a valid event down the slow path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Protocol, get_args

import msgspec

Kind = Literal["post", "reply", "boost", "bookmark", "delete"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
SCHEMA_VERSION: Final = 1
MAX_ID_LENGTH: Final = 128
MAX_CREATED_AT: Final = (1 << 63) - 1

# Reasons an event is dead-lettered; they label the dead-letter counter, so keep them few and stable.
DeadLetterReason = Literal[
    "invalid_json", "not_an_object", "missing_field", "wrong_type", "bad_value",
    "unknown_kind", "unsupported_version", "future_timestamp", "key_mismatch", "unprocessable",
]
DEAD_LETTER_REASONS: Final[tuple[DeadLetterReason, ...]] = get_args(DeadLetterReason)

_DETAIL_CHARS: Final = 200


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


class Fact(Protocol):
    """The fields folding an event reads: an `Event`, or the fast decoder's struct as it is."""

    @property
    def event_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def topic_id(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def target_id(self) -> str | None: ...


def parse_event(raw: bytes | None, *, now_ms: int | None = None, max_skew_ms: int = 300_000) -> Event:
    """Decode and validate one Kafka value; raises `InvalidEvent` with a dead-letter reason, and
    nothing else (a decoder limit hit by hostile input is `invalid_json` too).

    `now_ms` enables the future-timestamp check (`created_at` more than `max_skew_ms` ahead).
    """
    fact = decode_fact(raw, now_ms=now_ms, max_skew_ms=max_skew_ms)
    return fact if isinstance(fact, Event) else _event_from_wire(fact)  # type: ignore[arg-type]


def decode_fact(raw: bytes | None, *, now_ms: int | None = None, max_skew_ms: int = 300_000) -> Fact:
    """`parse_event` for the ingest path: the same rules and errors, but a valid event that the
    fast path accepts comes back as the decoder's struct, without building an `Event` from it
    (about a tenth of the fold's cost per event)."""
    if raw is None:
        raise InvalidEvent("invalid_json", "empty value")
    try:
        wire = _WIRE_DECODER.decode(raw)
    except Exception:  # any fault at all: the reference path names it
        wire = None
    if wire is not None and _acceptable(wire, now_ms, max_skew_ms):
        return wire
    return _parse_reference(raw, now_ms, max_skew_ms)


def event_from_mapping(body: Any, *, now_ms: int | None = None, max_skew_ms: int = 300_000) -> Event:
    """Validate a decoded JSON value against the contract; raises only `InvalidEvent`.

    `now_ms` enables the future-timestamp check (`created_at` more than `max_skew_ms` ahead).
    """
    try:
        return _validate(body, now_ms, max_skew_ms)
    except InvalidEvent:
        raise
    except Exception as exc:
        raise InvalidEvent("unprocessable", _describe(exc)) from None


# -- the reference path: every rule, in the order that decides the reason --------------------


def _parse_reference(raw: bytes, now_ms: int | None, max_skew_ms: int) -> Event:
    try:
        body = json.loads(raw)
    except RecursionError:
        raise InvalidEvent("invalid_json", "nested too deeply") from None
    except Exception as exc:  # UnicodeDecodeError, ValueError (also >4300-digit numbers), MemoryError ...
        raise InvalidEvent("invalid_json", _describe(exc)) from None
    return event_from_mapping(body, now_ms=now_ms, max_skew_ms=max_skew_ms)


def _validate(body: Any, now_ms: int | None, max_skew_ms: int) -> Event:
    if not isinstance(body, dict):
        raise InvalidEvent("not_an_object", f"expected a JSON object, got {type(body).__name__}")
    version = body.get("v")
    if version is None:
        raise InvalidEvent("missing_field", "v")
    if type(version) is not int:
        raise InvalidEvent("wrong_type", "v must be an integer")
    if version != SCHEMA_VERSION:
        raise InvalidEvent("unsupported_version", f"v={str(version)[:40]}")
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
    if type(created_at) is not int:  # booleans are not integers
        raise InvalidEvent("wrong_type", "created_at must be an integer (epoch ms)")
    if not 0 <= created_at <= MAX_CREATED_AT:
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
        event_id=body["event_id"], kind=kind, topic_id=body["topic_id"], author=body["author"],  # type: ignore[arg-type]
        created_at=created_at, target_id=target,
    )


_STRING_FIELDS: Final = ("event_id", "topic_id", "author")


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


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:_DETAIL_CHARS]}"


# -- the fast path: a typed decode that accepts only valid events ------------------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]


class _WireEvent(msgspec.Struct, gc=False):
    """The wire shape. msgspec rejects what does not fit (and, unlike `json`, lone surrogates and
    NaN literals); the rules it cannot state are checked in `_acceptable`. Its fields are strings
    and integers, so it can form no cycle and the cyclic collector need not track it."""

    v: int
    event_id: _Id
    kind: str
    topic_id: _Id
    author: _Id
    created_at: int
    target_id: _Id | None = None


_WIRE_DECODER: Final = msgspec.json.Decoder(_WireEvent)


def _acceptable(wire: _WireEvent, now_ms: int | None, max_skew_ms: int) -> bool:
    created_at = wire.created_at
    return (
        wire.v == SCHEMA_VERSION
        and wire.kind in KINDS
        and (wire.target_id is None) == (wire.kind == "post")
        and 0 <= created_at <= MAX_CREATED_AT
        and (now_ms is None or created_at <= now_ms + max_skew_ms)
        and "\x00" not in wire.event_id
        and "\x00" not in wire.topic_id
        and "\x00" not in wire.author
        and (wire.target_id is None or "\x00" not in wire.target_id)
    )


# A frozen dataclass's __init__ sets each field through object.__setattr__ (about 1.5 µs an event,
# more than the decode); the slots' own descriptors set the same fields directly.
_new_event = object.__new__
_set_event_id = Event.__dict__["event_id"].__set__
_set_kind = Event.__dict__["kind"].__set__
_set_topic_id = Event.__dict__["topic_id"].__set__
_set_author = Event.__dict__["author"].__set__
_set_created_at = Event.__dict__["created_at"].__set__
_set_target_id = Event.__dict__["target_id"].__set__
_set_v = Event.__dict__["v"].__set__


def _event_from_wire(wire: _WireEvent) -> Event:
    event = _new_event(Event)
    _set_event_id(event, wire.event_id)
    _set_kind(event, wire.kind)
    _set_topic_id(event, wire.topic_id)
    _set_author(event, wire.author)
    _set_created_at(event, wire.created_at)
    _set_target_id(event, wire.target_id)
    _set_v(event, SCHEMA_VERSION)
    return event
