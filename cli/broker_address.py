"""Find the Kafka broker a command should talk to."""

from __future__ import annotations

from broker.runtime import read_runtime, runtime_path
from config.settings import Settings


class NoBrokerError(RuntimeError):
    """No broker is configured or running; the message says what to do."""


def resolve_bootstrap(settings: Settings) -> str:
    """`host:port[,host:port]` of the configured broker, or of the embedded one `run` started."""
    if not settings.kafka.embedded:
        return settings.kafka.bootstrap_servers
    info = read_runtime(runtime_path(settings.database.path))
    if info is None:
        raise NoBrokerError(
            f"no embedded broker is running for {settings.database.path} "
            "(start `kukuri-trending run`, or set kafka.broker / KUKURI_KAFKA_BROKER to kafka://host:port)"
        )
    return info.broker_url.removeprefix("kafka://")
