"""The Python example in docs/events.md runs as printed, against the real broker, and sends what
the page says it sends."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from broker.embedded import EmbeddedBroker
from producer import EventProducer, InvalidEvent

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EVENTS_DOC = REPO / "docs" / "events.md"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.DOTALL)


def json_blocks(markdown: str) -> list[dict[str, object]]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", markdown, flags=re.DOTALL)]


async def read_all(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, dict[str, object]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    records = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=500)
                records += [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    return [(r.key, json.loads(r.value)) for r in records]


def test_the_documented_example_runs_and_sends_the_documented_events(
    kafka_broker: EmbeddedBroker, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    (example,) = python_blocks(EVENTS_DOC.read_text())
    topic = unique_name("doc-example")
    script = tmp_path / "example.py"
    script.write_text(example)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KUKURI_BOOTSTRAP": kafka_broker.bootstrap,
           "KUKURI_EVENTS_TOPIC": topic}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["not sent: bad_value", "acknowledged: 5"]

    received = asyncio.run(read_all(kafka_broker.bootstrap, topic, 5))
    assert {key for key, _ in received} == {b"rust"}
    documented = json_blocks(EVENTS_DOC.read_text())
    # The example sends exactly the five worked examples of the page, times aside.
    strip = lambda e: {k: v for k, v in e.items() if k != "created_at"}  # noqa: E731
    assert sorted(map(json.dumps, map(strip, (value for _, value in received)))) == sorted(
        map(json.dumps, map(strip, documented))
    )


async def test_helpers_validate_before_sending(kafka_broker: EmbeddedBroker, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("helpers")
    async with EventProducer(kafka_broker.bootstrap, topic, max_clock_skew_seconds=60) as events:
        with pytest.raises(InvalidEvent) as future:
            await events.post(event_id="e1", topic_id="t", author="a", created_at=2**62)
        assert future.value.reason == "future_timestamp"
        with pytest.raises(InvalidEvent) as long_id:
            await events.boost(event_id="e2", topic_id="t" * 129, author="a", post_id="p")
        assert long_id.value.reason == "bad_value"
        sent = await events.bookmark(event_id="b1", topic_id="t", author="a", post_id="p", created_at=5)
        assert (sent.kind, sent.target_id, sent.created_at) == ("bookmark", "p", 5)
        assert await events.flush() == 1
    assert [value for _, value in await read_all(kafka_broker.bootstrap, topic, 1)] == [sent.to_dict()]
