"""Topic set-up and inspection that never auto-creates topics.

Tansu creates any unknown topic with 4 partitions as soon as a producer, a consumer, or even a
Metadata request naming it touches it. Topics must therefore be created here, with the partition
count the stream processors expect, before anything else uses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from broker.embedded import BrokerError


@asynccontextmanager
async def _admin(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        try:
            await admin.start()
        except KafkaConnectionError as exc:
            raise BrokerError(f"cannot reach the Kafka broker at {bootstrap}") from exc
        yield admin
    finally:
        await admin.close()


async def _counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    # describe_topics() without names asks for all topics, the only Metadata request that
    # cannot create one.
    return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}


async def partition_counts(bootstrap: str) -> dict[str, int]:
    """Partition count of every existing topic."""
    async with _admin(bootstrap) as admin:
        return await _counts(admin)


async def ensure_topics(
    bootstrap: str,
    partitions_by_topic: dict[str, int],
    config: dict[str, str] | None = None,
) -> None:
    """Create the missing topics with the given partition counts; existing topics are left as they are.

    `config` (topic-level settings such as `cleanup.policy`) applies only to topics created here.
    Raises BrokerError naming every topic whose actual partition count differs from the one asked.
    """
    for topic, partitions in partitions_by_topic.items():
        # Tansu itself accepts 0 and would create a topic nothing can use.
        if partitions < 1:
            raise ValueError(f"topic {topic!r}: partition count must be at least 1, got {partitions}")
    async with _admin(bootstrap) as admin:
        existing = await _counts(admin)
        missing = [
            NewTopic(topic, partitions, 1, topic_configs=dict(config or {}))
            for topic, partitions in partitions_by_topic.items()
            if topic not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            failed = [
                f"{topic} (error {code}: {message})"
                for topic, code, message in response.topic_errors
                # Already-exists means a concurrent creator won; its count is checked below.
                if code not in (0, TopicAlreadyExistsError.errno)
            ]
            if failed:
                raise BrokerError(f"could not create topics on {bootstrap}: {', '.join(failed)}")
            existing = await _counts(admin)
    mismatched = [
        f"{topic} ({existing[topic]} partitions, expected {partitions})" if topic in existing else topic
        for topic, partitions in partitions_by_topic.items()
        if existing.get(topic) != partitions
    ]
    if mismatched:
        raise BrokerError(
            f"topics missing or with an unexpected partition count on {bootstrap}: {', '.join(mismatched)}"
        )
