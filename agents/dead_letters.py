"""Dead letters: a rejected record's original bytes, forwarded with why it was rejected.

Headers: `reason` (a `DeadLetterReason`), `detail` (at most 512 bytes), `source`
(`topic/partition/offset` of the original). A value or key too big to forward whole is cut and
says so (`truncated_from`, `key_truncated_from`); the source still points at the original. So a
dead letter always fits in one produce request, and a failure to write one is a broker fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer, ConsumerRecord

from streams.events import InvalidEvent

MAX_DLQ_VALUE_BYTES = 512 * 1024
MAX_DLQ_KEY_BYTES = 1024
MAX_DETAIL_BYTES = 512


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, record: ConsumerRecord, error: InvalidEvent) -> DeadLetter:
        value: bytes = record.value or b""
        key: bytes | None = record.key
        headers = [
            ("reason", error.reason.encode()),
            ("detail", error.detail.encode(errors="replace")[:MAX_DETAIL_BYTES]),
            ("source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        if len(value) > MAX_DLQ_VALUE_BYTES:
            headers.append(("truncated_from", str(len(value)).encode()))
            value = value[:MAX_DLQ_VALUE_BYTES]
        if key is not None and len(key) > MAX_DLQ_KEY_BYTES:
            headers.append(("key_truncated_from", str(len(key)).encode()))
            key = key[:MAX_DLQ_KEY_BYTES]
        return cls(key, value, headers)


class DeadLetterSink(Protocol):
    async def write(self, letters: Sequence[DeadLetter]) -> None:
        """Return once every letter is acknowledged; raise if any is not."""


class KafkaDeadLetters:
    """Dead letters on the DLQ topic, acknowledged by the broker (acks=all) before `write` returns."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        pending = [await self.producer.send(self.topic, value=d.value, key=d.key, headers=d.headers) for d in letters]
        if pending:
            await asyncio.gather(*pending)
