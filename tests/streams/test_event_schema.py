"""The published JSON Schema for event v1 and the worker's decoder accept and reject the same values.

Three differences are by design and handled explicitly below:
- the future-timestamp rule depends on the worker's clock, which a schema cannot know: the decoder
  is called without `now_ms`, which turns that rule off;
- a lone surrogate (`"\\ud800"`) is a valid JSON string, so the schema accepts it; the decoder
  rejects it because it cannot become a Kafka key or a database value;
- JSON Schema counts `1.0` as an integer; the decoder (and docs/events.md) require integer literals.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import KINDS, InvalidEvent, parse_event

SCHEMA = json.loads(resources.files("streams").joinpath("schemas/event-v1.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
INTEGER_FIELDS = ("v", "created_at")


def decoder_accepts(value: Any) -> bool:
    try:
        parse_event(json.dumps(value).encode())
    except InvalidEvent:
        return False
    return True


def has_integral_float(value: Any) -> bool:
    """True when an integer field holds a float such as 1.0, which only the schema calls an integer."""
    return isinstance(value, dict) and any(
        isinstance(value.get(name), float) and value[name].is_integer() for name in INTEGER_FIELDS
    )


def assert_agree(value: Any) -> None:
    schema_says = VALIDATOR.is_valid(value)
    if has_integral_float(value):
        assert not decoder_accepts(value)
        return
    assert decoder_accepts(value) == schema_says, (value, schema_says)


def event(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"v": 1, "event_id": "e1", "kind": "post", "topic_id": "t1", "author": "a1",
                            "created_at": 1_700_000_000_000}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not MISSING}


MISSING = object()

ACCEPTED = {
    "post": event(),
    "post with null target_id": event(target_id=None),
    "reply": event(kind="reply", target_id="p1"),
    "boost": event(kind="boost", target_id="p1"),
    "bookmark": event(kind="bookmark", target_id="p1"),
    "delete": event(kind="delete", target_id="e0"),
    "unknown fields are ignored": event(lang="ja", extra={"x": 1}),
    "ids of 128 characters": event(event_id="x" * 128, topic_id="é" * 128, author="🙂" * 128),
    "created_at zero": event(created_at=0),
    "created_at at the int64 maximum": event(created_at=2**63 - 1),
    "created_at far in the future (clock rule is the worker's)": event(created_at=2**62),
}

REJECTED = {
    "not an object": [event()],
    "a string": "post",
    "null": None,
    "missing v": event(v=MISSING),
    "v 2": event(v=2),
    "v as a string": event(v="1"),
    "v true": event(v=True),
    "missing kind": event(kind=MISSING),
    "unknown kind": event(kind="like"),
    "kind in capitals": event(kind="Post"),
    "kind not a string": event(kind=1),
    "missing event_id": event(event_id=MISSING),
    "empty event_id": event(event_id=""),
    "event_id of 129 characters": event(event_id="x" * 129),
    "numeric topic_id": event(topic_id=7),
    "null author": event(author=None),
    "NUL in topic_id": event(topic_id="a\x00b"),
    "missing created_at": event(created_at=MISSING),
    "negative created_at": event(created_at=-1),
    "created_at beyond int64": event(created_at=2**63),
    "created_at as a string": event(created_at="1700000000000"),
    "created_at with a fraction": event(created_at=1.5),
    "created_at true": event(created_at=True),
    "post with a target_id": event(target_id="p1"),
    "reply without target_id": event(kind="reply"),
    "boost with null target_id": event(kind="boost", target_id=None),
    "delete with an empty target_id": event(kind="delete", target_id=""),
    "bookmark with a numeric target_id": event(kind="bookmark", target_id=3),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_both_accept(name: str) -> None:
    value = ACCEPTED[name]
    assert VALIDATOR.is_valid(value), name
    assert decoder_accepts(value), name


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_both_reject(name: str) -> None:
    value = REJECTED[name]
    assert not VALIDATOR.is_valid(value), name
    assert not decoder_accepts(value), name


@pytest.mark.parametrize("field", ["event_id", "topic_id", "author", "target_id"])
def test_lone_surrogates_only_the_decoder_rejects(field: str) -> None:
    value = event(**{"kind": "reply", "target_id": "p1", field: "ab\ud800"})
    assert VALIDATOR.is_valid(value)
    with pytest.raises(InvalidEvent) as caught:
        parse_event(json.dumps(value).encode())
    assert caught.value.reason == "bad_value"


@pytest.mark.parametrize("field", INTEGER_FIELDS)
def test_integral_floats_only_the_schema_accepts(field: str) -> None:
    value = event(**{field: float(event()[field])})
    assert VALIDATOR.is_valid(value)
    assert not decoder_accepts(value)


def test_future_timestamps_are_the_decoders_rule() -> None:
    value = event(created_at=1_700_000_000_000 + 300_001)
    assert VALIDATOR.is_valid(value)
    with pytest.raises(InvalidEvent) as caught:
        parse_event(json.dumps(value).encode(), now_ms=1_700_000_000_000)
    assert caught.value.reason == "future_timestamp"


ids = st.text(max_size=130) | st.just("x" * 128) | st.just("x" * 129) | st.just("a\x00")
anything = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.lists(st.none(), max_size=1)
fields = {
    "v": st.just(1) | anything,
    "event_id": ids | anything,
    "kind": st.sampled_from([*KINDS, "like", ""]) | anything,
    "topic_id": ids | anything,
    "author": ids | anything,
    "target_id": ids | anything,
    "created_at": st.integers(min_value=-2, max_value=2**64) | st.sampled_from([0, 2**63 - 1, 2**63]) | anything,
}


_valid_id = st.text(min_size=1, max_size=128).filter(lambda s: "\x00" not in s)
_valid = {
    "v": st.just(1),
    "event_id": _valid_id,
    "kind": st.sampled_from(KINDS),
    "topic_id": _valid_id,
    "author": _valid_id,
    "created_at": st.integers(min_value=0, max_value=2**63 - 1),
}


@st.composite
def event_like(draw: st.DrawFn) -> Any:
    """Mostly well-formed events with a few fields dropped or replaced, so both answers are common."""
    body: dict[str, Any] = {}
    for name, strategy in fields.items():
        if name == "target_id":
            continue
        roll = draw(st.integers(0, 29))
        if roll == 0:
            continue
        body[name] = draw(strategy) if roll < 4 else draw(_valid[name])
    roll = draw(st.integers(0, 9))
    if roll == 0:
        body["target_id"] = draw(fields["target_id"])
    elif roll > 1:
        body["target_id"] = None if body.get("kind") == "post" else draw(_valid_id)
    if draw(st.integers(0, 3)) == 0:
        body.update(draw(st.dictionaries(st.text(max_size=4), anything, max_size=2)))
    return body


@settings(max_examples=400, deadline=None)
@given(event_like() | anything)
def test_schema_and_decoder_agree_on_generated_values(value: Any) -> None:
    assert_agree(value)


def test_the_schema_is_itself_valid_and_packaged() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert resources.files("streams").joinpath("schemas/event-v1.json").is_file()
