from __future__ import annotations

import json

import pytest

from streams.events import Event, InvalidEvent, parse_event

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
