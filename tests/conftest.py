"""Fixtures shared by every test package: the session's Kafka broker, per-test environments and a
webhook receiver."""

from tests.fixtures.kafka import kafka_broker, unique_name  # noqa: F401
from tests.fixtures.trending_env import trending_env  # noqa: F401
from tests.fixtures.webhook import receiver  # noqa: F401
