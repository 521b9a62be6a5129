from tests.fixtures.kafka import kafka_broker, unique_name  # noqa: F401
