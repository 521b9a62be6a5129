"""Find the Kafka broker a command should talk to."""

from __future__ import annotations

from dataclasses import replace

from broker.runtime import read_runtime, runtime_path
from config.settings import Settings

# Tansu holds every JoinGroup for half the session timeout: with Kafka-like 10 s a worker would
# wait 5 s at each join, and below about 1 s the group flaps.
EMBEDDED_SESSION_TIMEOUT_SECONDS = 3.0
EMBEDDED_HEARTBEAT_INTERVAL_SECONDS = 1.0


class NoBrokerError(RuntimeError):
    """No broker is configured or running; the message says what to do."""


def tuned_for_broker(settings: Settings) -> Settings:
    """The settings with consumer-group timeouts the embedded broker handles well (others unchanged)."""
    if not settings.kafka.embedded:
        return settings
    return replace(settings, kafka=replace(settings.kafka, session_timeout_seconds=EMBEDDED_SESSION_TIMEOUT_SECONDS,
                                           heartbeat_interval_seconds=EMBEDDED_HEARTBEAT_INTERVAL_SECONDS))


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
