"""`produce --raw` sends every line as it is; reading a key from it never fails."""

from __future__ import annotations

import pytest

from cli.produce_cmd import _topic_key


@pytest.mark.parametrize("line", [
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError inside the JSON decoder
    b"\xff\xfe not utf-8",
    b"[1, 2]",
    b'{"topic_id": 7}',
    b"1" * 10_000,  # past Python's integer-string limit
    b"",
])
def test_a_line_without_a_readable_topic_has_no_key(line: bytes) -> None:
    assert _topic_key(line) is None


def test_a_line_with_a_topic_is_keyed_by_it() -> None:
    assert _topic_key(b'{"topic_id": "t1", "kind": "oops"}') == b"t1"
