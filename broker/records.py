"""Fingerprints of single records, to tell whether a partition is still the log a state was built from.

A memory-only broker that restarts comes back empty, and may already hold new records beyond the
offset a worker's state reached before the worker looks; comparing watermarks cannot see that.
Comparing the record the state last consumed (same offset, same timestamp and value) can.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import OffsetOutOfRangeError

from broker.embedded import BrokerError

Fingerprint = tuple[int, int, int]
"""(offset, timestamp, crc32 of the value)."""


def fingerprint(record: ConsumerRecord) -> Fingerprint:
    return (record.offset, record.timestamp, zlib.crc32(record.value or b""))


async def fingerprints_at(
    bootstrap: str, topic: str, offsets: Mapping[int, int], timeout: float = 10.0
) -> dict[int, Fingerprint | None]:
    """The fingerprint of the record at `offsets[partition]` (None where there is no such record)."""
    if not offsets:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="none", fetch_max_wait_ms=10)
    await consumer.start()
    found: dict[int, Fingerprint | None] = {p: None for p in offsets}
    try:
        tps = {TopicPartition(topic, p): o for p, o in offsets.items()}
        consumer.assign(list(tps))
        for tp, offset in tps.items():
            consumer.seek(tp, offset)
        pending = set(tps)
        try:
            async with asyncio.timeout(timeout):
                while pending:
                    batch = await consumer.getmany(*pending, timeout_ms=50)
                    for tp, records in batch.items():
                        match = next((r for r in records if r.offset == tps[tp]), None)
                        found[tp.partition] = None if match is None else fingerprint(match)
                        pending.discard(tp)
                    for tp in list(pending):
                        high = consumer.highwater(tp)
                        if high is not None and high <= tps[tp]:
                            pending.discard(tp)  # the partition ends before that offset
        except OffsetOutOfRangeError:
            pass  # retention removed the record: the state is older than the log, "not the same"
        except TimeoutError:
            # No answer is not an answer: the caller retries rather than dropping a good state.
            raise BrokerError(f"no fetch response within {timeout:g}s for {topic!r}") from None
    finally:
        await consumer.stop()
    return found
