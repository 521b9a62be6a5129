"""True end offsets of a topic's partitions on Tansu.

Tansu answers ListOffsets(latest) with the base offset of the last stored batch + 1, so
`AIOKafkaConsumer.end_offsets()` is too small whenever that batch holds more than one record
(two batches of 100 records: 101 instead of 200). The high watermark in Fetch responses is right,
so this module reads it from a real fetch.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from broker.embedded import BrokerError
from broker.topics import partition_counts


async def high_watermarks(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Map each partition of `topic` to its true end offset (the offset the next record will get).

    Raises BrokerError if the topic does not exist (it is not auto-created) or if some partition
    has not answered a fetch within `timeout` seconds.
    """
    counts = await partition_counts(bootstrap)
    if topic not in counts:
        raise BrokerError(f"topic {topic!r} does not exist on {bootstrap}")
    partitions = [TopicPartition(topic, p) for p in range(counts[topic])]
    if not partitions:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        # Only reached if a seek below lands past the end; the fetch from 0 still reports the watermark.
        auto_offset_reset="earliest",
        # Tansu holds a fetch with nothing new for up to this long.
        fetch_max_wait_ms=10,
    )
    try:
        try:
            await consumer.start()
        except KafkaConnectionError as exc:
            raise BrokerError(f"cannot reach the Kafka broker at {bootstrap}") from exc
        consumer.assign(partitions)
        # Seeking to the (possibly too small) listed end keeps each fetch down to the last batch.
        for tp, offset in (await consumer.end_offsets(partitions)).items():
            consumer.seek(tp, offset)
        try:
            async with asyncio.timeout(timeout):
                while missing := [tp for tp in partitions if consumer.highwater(tp) is None]:
                    await consumer.getmany(*missing, timeout_ms=10)
        except TimeoutError:
            raise BrokerError(
                f"no fetch response within {timeout:g}s for partitions "
                f"{', '.join(str(tp.partition) for tp in missing)} of {topic!r}"
            ) from None
        return {tp.partition: consumer.highwater(tp) for tp in partitions}
    finally:
        await consumer.stop()
