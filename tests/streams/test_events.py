from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import DEAD_LETTER_REASONS, Event, InvalidEvent, decode_fact, event_from_mapping, parse_event

NOW = 1_700_000_000_000


def body(**changes: object) -> bytes:
    base: dict[str, object] = {"v": 1, "event_id": "e1", "kind": "reply", "topic_id": "t", "author": "a",
                               "target_id": "p1", "created_at": NOW}
    base.update(changes)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_round_trip() -> None:
    event = parse_event(body(), now_ms=NOW)
    assert event == Event("e1", "reply", "t", "a", NOW, "p1")
    assert parse_event(event.to_json()) == event
    assert event.key() == b"t"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (body(v=2), "unsupported_version"),
        (body(v="1"), "wrong_type"),
        (body(kind="like"), "unknown_kind"),
        (body(author=...), "missing_field"),
        (body(author=7), "wrong_type"),
        (body(event_id=""), "bad_value"),
        (body(event_id="x" * 129), "bad_value"),
        (body(topic_id="a\u0000b"), "bad_value"),
        (body(created_at=1.5), "wrong_type"),
        (body(created_at=True), "wrong_type"),
        (body(created_at=-1), "bad_value"),
        (body(target_id=...), "missing_field"),
        (body(kind="post"), "bad_value"),  # a post names no target
        (body(created_at=NOW + 300_001), "future_timestamp"),
    ],
)
def test_invalid_events_carry_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw, now_ms=NOW)
    assert caught.value.reason == reason


def test_clock_skew_allowance() -> None:
    assert parse_event(body(created_at=NOW + 300_000), now_ms=NOW).created_at == NOW + 300_000


# -- the decoder is total: an Event or InvalidEvent, whatever the bytes --------------------------

REASONS = set(DEAD_LETTER_REASONS)
FACT_FIELDS = ("event_id", "kind", "topic_id", "author", "created_at", "target_id")
VALID = json.loads(body())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
field_values = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=140) | st.just("")
    | st.just("\ud800") | st.just("a\x00b") | st.just("x" * 129) | st.sampled_from(["post", "reply", "delete", "like"])
    | st.integers(min_value=-(2**70), max_value=2**70) | st.lists(st.integers(), max_size=2) | st.just({})
)
NUMBER_LITERALS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-0", b"1.0", b"1E2", b"9" * 5000,
                   b"9" * 30, b"-1", b"true", b"null", b'"1"']


def decode_outcome(raw: bytes) -> Event | str:
    """The event, or the dead-letter reason; anything else escaping fails the test. The ingest
    path's `decode_fact` must give the same fields or the same reason."""
    try:
        fact = decode_fact(raw, now_ms=NOW)
    except InvalidEvent as exc:
        fact_outcome: tuple[object, ...] | str = exc.reason
    else:
        fact_outcome = tuple(getattr(fact, name) for name in FACT_FIELDS)
    try:
        event = parse_event(raw, now_ms=NOW)
    except InvalidEvent as exc:
        assert exc.reason in REASONS
        assert isinstance(exc.detail, str)
        assert fact_outcome == exc.reason
        return exc.reason
    assert isinstance(event, Event)
    assert fact_outcome == tuple(getattr(event, name) for name in FACT_FIELDS)
    return event


def reference_outcome(value: object) -> Event | str:
    try:
        return event_from_mapping(value, now_ms=NOW)
    except InvalidEvent as exc:
        return exc.reason


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_to_an_event_or_a_reason(raw: bytes) -> None:
    decode_outcome(raw)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_values_get_the_reference_reason(value: object) -> None:
    raw = json.dumps(value).encode()  # allow_nan: NaN and Infinity literals too
    assert decode_outcome(raw) == reference_outcome(json.loads(raw))


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from([*VALID, "extra"]), field_values), st.sets(st.sampled_from(list(VALID))))
def test_mutated_events_get_the_reference_reason(changes: dict, dropped: set) -> None:
    """The fast decoder and the rule-by-rule reference agree on every near-valid event."""
    mutated = {k: v for k, v in {**VALID, **changes}.items() if k not in dropped}
    raw = json.dumps(mutated, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert decode_outcome(raw) == reference_outcome(json.loads(raw))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=30))
def test_corrupted_valid_events_decode_to_an_event_or_a_reason(patch: bytes, at: int, cut: int) -> None:
    raw = body()
    decode_outcome(raw[:at] + patch + raw[at + len(patch):])
    decode_outcome(raw[: max(len(raw) - cut, 0)])


@pytest.mark.parametrize("literal", NUMBER_LITERALS)
@pytest.mark.parametrize("field", ["v", "created_at", "event_id"])
def test_number_literals_in_every_numeric_position(field: str, literal: bytes) -> None:
    raw = body(**{field: "@"}).replace(b'"@"', literal)
    outcome = decode_outcome(raw)
    if literal == b"9" * 5000:
        assert outcome == "invalid_json"  # beyond Python's int-from-string limit
    elif outcome != "invalid_json":
        assert outcome == reference_outcome(json.loads(raw))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
        (b'{"v": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid_json"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "invalid_json"),
        (b"1" * 10_000, "invalid_json"),
        (body(created_at="@").replace(b'"@"', b"1" * 10_000), "invalid_json"),
        (body(created_at=2**63), "bad_value"),
        (body(created_at=2**63 - 1), "future_timestamp"),
        (body(author="a" * 3_000_000), "bad_value"),
        (body(extra="a" * 3_000_000), "reply"),
        (body(event_id="\ud800"), "bad_value"),
        (body().replace(b'"e1"', b'"\\ud83d\\ude00"'), "reply"),  # an escaped surrogate pair is one character
        (body().replace(b'"e1"', b'"\xed\xa0\x80"'), "bad_value"),  # a UTF-8-encoded surrogate
        (b"\xef\xbb\xbf" + body(), "reply"),  # a UTF-8 byte-order mark, as json.loads allows
        (b"", "invalid_json"),
        (b"null", "not_an_object"),
        (b'"post"', "not_an_object"),
        (body(v=True), "wrong_type"),
        (body(v=1.0), "wrong_type"),
        (body(created_at=False), "wrong_type"),
        (body(created_at=1.7e12), "wrong_type"),
    ],
)
def test_decoder_limits_and_edge_values(raw: bytes, reason: str) -> None:
    outcome = decode_outcome(raw)
    assert (outcome.kind if isinstance(outcome, Event) else outcome) == reason
