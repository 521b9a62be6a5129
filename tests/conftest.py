"""Fixtures shared by every test package: the session's Kafka broker and per-test environments."""

from tests.fixtures.kafka import kafka_broker, unique_name  # noqa: F401
from tests.fixtures.trending_env import trending_env  # noqa: F401
