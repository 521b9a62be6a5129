"""Key layout of the window state (big-endian, so related keys sort together).

Every key starts with `P` and the partition as 2 big-endian bytes, so a partition's state can be
dropped with one range delete when the broker loses its history or the partition moves away.

    P|pp|F|topic\\0event_id        -> fact record (kind, retracted flag, created_at, author, target)
    P|pp|I|pane(8)|first entry      -> time index for expiry: the facts of one pane written by one
                                       checkpoint, as `topic\\0event_id\\0target` entries joined
                                       by NUL (target empty except for deletes)
    P|pp|D|topic\\0target_id        -> a delete that arrived before its target
    P|pp|B|topic\\0target_id\\0boost_id
                                    -> a boost whose target was unknown when it arrived (booster,
                                       created_at), kept only while self-boosts are classified
    P|pp|S                          -> present when this partition's boosts were classified as
                                       self-boosts or not from its first fact on
    P|pp|O                          -> next Kafka offset to consume, written with the facts
    P|pp|K                          -> fingerprint of the last record consumed (offset, timestamp, crc)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final, NamedTuple

from streams.events import Kind

_FACT_HEAD = struct.Struct(">cBqH")
_KIND_CODES: Final[dict[str, bytes]] = {
    "post": b"p", "reply": b"r", "boost": b"b", "bookmark": b"k", "delete": b"d",
}
_CODE_KINDS: Final[dict[bytes, Kind]] = {v: k for k, v in _KIND_CODES.items()}  # type: ignore[misc]


def partition_prefix(partition: int) -> bytes:
    return b"P" + partition.to_bytes(2, "big")


def partition_range(partition: int) -> tuple[bytes, bytes]:
    """Every key of one partition: [prefix, next prefix)."""
    return partition_prefix(partition), partition_prefix(partition + 1)


def identity_key(topic_id: str, event_id: str) -> bytes:
    """The `topic\\0event_id` part shared by a fact's keys (NUL never occurs in a valid id)."""
    return topic_id.encode() + b"\0" + event_id.encode()


def fact_prefix(partition: int) -> bytes:
    """`fact_key(partition, t, e) == fact_prefix(partition) + identity_key(t, e)`."""
    return partition_prefix(partition) + b"F"


def time_prefix(partition: int) -> bytes:
    """Time-index keys are `time_prefix(partition) + pane(8) + the first entry they hold`."""
    return partition_prefix(partition) + b"I"


def fact_key(partition: int, topic_id: str, event_id: str) -> bytes:
    return partition_prefix(partition) + b"F" + identity_key(topic_id, event_id)


def fact_range(partition: int) -> tuple[bytes, bytes]:
    prefix = partition_prefix(partition)
    return prefix + b"F", prefix + b"G"


def time_range(partition: int, before_pane: int) -> tuple[bytes, bytes]:
    """Time-index keys of panes starting before `before_pane`."""
    prefix = time_prefix(partition)
    return prefix, prefix + max(before_pane, 0).to_bytes(8, "big")


def legacy_time_range(partition: int) -> tuple[bytes, bytes]:
    """Per-fact time-index keys (`T`) of state written before the index held one value per pane
    and checkpoint (`I`). A partition that still has them is rebuilt instead of read."""
    prefix = partition_prefix(partition)
    return prefix + b"T", prefix + b"U"


def time_entry(identity: bytes, target: bytes = b"") -> bytes:
    """One fact in a time-index value: its identity key and, for a delete, the target id."""
    return identity + b"\0" + target


def split_time_entries(value: bytes) -> Iterator[tuple[str, str, str]]:
    """(topic_id, event_id, target_id or "") of each entry of a time-index value.

    No id contains NUL, so the NUL-joined fields split back unambiguously, three per entry.
    """
    fields = value.split(b"\0")
    for i in range(0, len(fields), 3):
        yield fields[i].decode(), fields[i + 1].decode(), fields[i + 2].decode()


def tombstone_key(partition: int, topic_id: str, target_id: str) -> bytes:
    return partition_prefix(partition) + b"D" + identity_key(topic_id, target_id)


def tombstone_range(partition: int) -> tuple[bytes, bytes]:
    prefix = partition_prefix(partition)
    return prefix + b"D", prefix + b"E"


def split_identity_key(key: bytes) -> tuple[str, str]:
    """(topic_id, id) of a fact or tombstone key."""
    topic, _, ident = key[4:].partition(b"\0")
    return topic.decode(), ident.decode()


def waiting_boost_key(partition: int, topic_id: str, target_id: str, boost_id: str) -> bytes:
    return partition_prefix(partition) + b"B" + identity_key(topic_id, target_id) + b"\0" + boost_id.encode()


def waiting_boost_range(partition: int) -> tuple[bytes, bytes]:
    prefix = partition_prefix(partition)
    return prefix + b"B", prefix + b"C"


def split_waiting_boost_key(key: bytes) -> tuple[str, str, str]:
    """(topic_id, target_id, boost_id) of a waiting-boost key."""
    topic, target, boost = key[4:].split(b"\0")
    return topic.decode(), target.decode(), boost.decode()


_WAITING = struct.Struct(">q")


def encode_waiting_boost(booster: str, created_at: int) -> bytes:
    return _WAITING.pack(created_at) + booster.encode()


def decode_waiting_boost(raw: bytes) -> tuple[str, int]:
    """(booster, created_at) of a waiting-boost value."""
    (created_at,) = _WAITING.unpack_from(raw)
    return raw[_WAITING.size :].decode(), created_at


def classified_key(partition: int) -> bytes:
    return partition_prefix(partition) + b"S"


def offset_key(partition: int) -> bytes:
    return partition_prefix(partition) + b"O"


def lineage_key(partition: int) -> bytes:
    return partition_prefix(partition) + b"G"


_FINGERPRINT = struct.Struct(">qqQ")


def fingerprint_key(partition: int) -> bytes:
    return partition_prefix(partition) + b"K"


def encode_fingerprint(value: tuple[int, int, int]) -> bytes:
    return _FINGERPRINT.pack(*value)


def decode_fingerprint(raw: bytes) -> tuple[int, int, int]:
    offset, timestamp, crc = _FINGERPRINT.unpack(raw)
    return offset, timestamp, crc


_RETRACTED: Final = 1
_SELF_BOOST: Final = 2


class FactRecord(NamedTuple):
    """A stored fact. `self_boost`: a boost counted as a self-boost (see `streams.scoring.is_self_boost`);
    it shares the flags byte with `retracted`, so records written before it read as False.

    A named tuple, not a frozen dataclass: restores, retractions and boost classification decode
    one per fact they touch, and a frozen dataclass sets each field through `object.__setattr__`."""

    kind: Kind
    retracted: bool
    created_at: int
    author: str
    target_id: str
    self_boost: bool = False

    def encode(self) -> bytes:
        return encode_fact(self.kind, self.retracted, self.created_at, self.author, self.target_id, self.self_boost)

    @classmethod
    def decode(cls, raw: bytes) -> FactRecord:
        code, flags, created_at, author_len = _FACT_HEAD.unpack_from(raw)
        start = _FACT_HEAD.size
        author = raw[start : start + author_len].decode()
        target = raw[start + author_len :].decode()
        return cls(_CODE_KINDS[code], bool(flags & _RETRACTED), created_at, author, target, bool(flags & _SELF_BOOST))

    def retract(self) -> FactRecord:
        return FactRecord(self.kind, True, self.created_at, self.author, self.target_id, self.self_boost)

    def as_self_boost(self) -> FactRecord:
        return FactRecord(self.kind, self.retracted, self.created_at, self.author, self.target_id, True)


_pack_fact_head = _FACT_HEAD.pack


def encode_fact(
    kind: str, retracted: bool, created_at: int, author: str, target_id: str, self_boost: bool = False
) -> bytes:
    """`FactRecord(...).encode()` without building the record (the ingest path writes one per event)."""
    raw_author = author.encode()
    flags = retracted | (self_boost << 1)
    return _pack_fact_head(_KIND_CODES[kind], flags, created_at, len(raw_author)) + raw_author + target_id.encode()
