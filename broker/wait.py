"""Wait for a Kafka broker at start-up, retrying with backoff and logging every attempt.

A worker started together with its broker (docker-compose, systemd) should not crash because it
came up first; one that points at the wrong address should say so within a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from broker.embedded import BrokerError
from observability.logs import log_event

log = logging.getLogger("kukuri_trending.broker")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0


async def broker_reachable(bootstrap: str) -> None:
    """One Metadata round trip to `bootstrap`; raises KafkaError or OSError when it fails."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    # aiokafka logs every refused connection as an error; our own line per attempt says it better.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    if not log.isEnabledFor(logging.DEBUG):
        aiokafka_log.setLevel(logging.CRITICAL)
    try:
        await client.bootstrap()
    finally:
        aiokafka_log.setLevel(level)
        await client.close()


async def wait_for_broker(bootstrap: str, timeout_seconds: float) -> int:
    """Return the number of attempts it took; raise BrokerError after `timeout_seconds` of failures."""
    deadline = time.monotonic() + timeout_seconds
    delay = FIRST_DELAY_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            await broker_reachable(bootstrap)
        except (KafkaError, OSError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerError(
                    f"cannot reach the Kafka broker at {bootstrap} after {attempt} attempts in "
                    f"{timeout_seconds:g} s ({exc})"
                ) from exc
            wait = min(delay, left)
            log_event(log, "trending_broker.waiting", level=logging.WARNING, bootstrap=bootstrap, attempt=attempt,
                      error=str(exc), retry_in_seconds=round(wait, 2))
            await asyncio.sleep(wait)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            continue
        log_event(log, "trending_broker.reachable", bootstrap=bootstrap, attempt=attempt)
        return attempt
