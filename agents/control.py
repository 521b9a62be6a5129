"""Control records that ride in the events topic itself, marked by a Kafka header.

`materialize` sends one barrier record to every partition. A worker that reads the barrier of a
partition has processed everything that partition held before the command started, so once it has
seen the barrier on all its partitions it can write the requested snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

CONTROL_HEADER: Final = "kukuri-control"
MATERIALIZE: Final = b"materialize"


@dataclass(frozen=True, slots=True)
class MaterializeRequest:
    request_id: str
    boundary: int

    def encode(self) -> bytes:
        return json.dumps({"request_id": self.request_id, "at": self.boundary}).encode()


def control_kind(headers: Sequence[tuple[str, bytes]] | None) -> bytes | None:
    """The control kind of a record, or None for an ordinary event."""
    if not headers:
        return None
    for name, value in headers:
        if name == CONTROL_HEADER:
            return value
    return None


def decode_materialize(value: bytes | None) -> MaterializeRequest | None:
    """The request a barrier carries; None when it is unreadable (it is then ignored and logged)."""
    try:
        body = json.loads(value or b"")
        return MaterializeRequest(str(body["request_id"]), int(body["at"]))
    except (ValueError, KeyError, TypeError):
        return None
