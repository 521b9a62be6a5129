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


# Without a deadline of its own, a barrier older than this is taken for one being replayed (a new
# worker reading the partition from the start), not a request someone is waiting for.
REQUEST_TTL_MS: Final = 10 * 60_000


@dataclass(frozen=True, slots=True)
class MaterializeRequest:
    request_id: str
    boundary: int
    sent_at: int
    expires_at: int = 0  # when the requester stops waiting (0: sent_at + REQUEST_TTL_MS)

    def encode(self) -> bytes:
        return json.dumps({"request_id": self.request_id, "at": self.boundary, "sent_at": self.sent_at,
                           "expires_at": self.expires_at}).encode()

    def expired(self, now_ms: int) -> bool:
        return now_ms > (self.expires_at or self.sent_at + REQUEST_TTL_MS)


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
        return MaterializeRequest(str(body["request_id"]), int(body["at"]), int(body.get("sent_at", 0)),
                                  int(body.get("expires_at", 0)))
    except (ValueError, KeyError, TypeError):
        return None
