"""Every class of hostile value through the real worker, the session's Tansu broker and a real
SQLite file: each lands in the DLQ with its reason, the valid events around them are counted
exactly (tests.oracle), and the worker's memory stays bounded."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from agents.dead_letters import MAX_DLQ_VALUE_BYTES
from producer.synthetic import TrafficGenerator, delivery
from streams.events import Event
from streams.windows import HOUR_MS
from tests.agents.test_worker_integration import materialize, now_boundary, read_topic
from tests.fixtures.trending_env import TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def hostile_values(template: Event, now_ms: int) -> list[tuple[bytes | None, bytes | None, str]]:
    """(key, value, expected reason) for each class of hostile input, keyed like `template`.

    Each is invalid whatever the template's kind: a changed but valid event would be a real fact.
    """
    base = template.to_dict()
    key = template.key()

    def with_(**changes: object) -> bytes:
        body = {**base, **changes}
        return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()

    def literal(field: str, text: bytes) -> bytes:
        return with_(**{field: "@@"}).replace(b'"@@"', text)

    return [
        (key, template.to_json()[:-7], "invalid_json"),  # truncated
        (key, with_(event_id="@@").replace(b"@@", b"\xff\xfe\xfd"), "invalid_json"),  # not UTF-8
        (key, b"\x00\x01\x02garbage", "invalid_json"),
        (key, with_(created_at=True), "wrong_type"),
        (key, with_(v=True), "wrong_type"),
        (key, with_(created_at=float(base["created_at"])), "wrong_type"),
        (key, with_(v=1.0), "wrong_type"),
        (key, literal("created_at", b"NaN"), "wrong_type"),
        (key, literal("created_at", b"Infinity"), "wrong_type"),
        (key, literal("created_at", b"-Infinity"), "wrong_type"),
        (key, with_(author=7), "wrong_type"),
        (key, with_(created_at=-1), "bad_value"),
        (key, with_(created_at=2**63), "bad_value"),
        (key, with_(created_at=2**200), "bad_value"),
        (key, with_(created_at=now_ms + 10 * 365 * 24 * HOUR_MS), "future_timestamp"),
        (key, with_(event_id="x" * 129), "bad_value"),
        (key, with_(author=""), "bad_value"),
        (key, with_(event_id="a\x00b"), "bad_value"),
        (key, with_(event_id="\ud800"), "bad_value"),  # a lone surrogate
        (key, with_(kind="post", target_id="p0"), "bad_value"),  # a post names no target
        (key, b"[1, 2, 3]", "not_an_object"),
        (key, b'"just a string"', "not_an_object"),
        (key, b"42", "not_an_object"),
        (key, b"null", "not_an_object"),
        (key, with_(author="a" * (3 * MB)), "bad_value"),  # a multi-MB value
        (key, b"[" * 100_000 + b"]" * 100_000, "invalid_json"),  # nesting depth 100k
        (key, b'{"v": 1, "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "invalid_json"),
        (key, literal("created_at", b"9" * 10_000), "invalid_json"),  # a 10k-digit number
        (key, literal("v", b"1" + b"0" * 10_000), "invalid_json"),
        (key, with_(v=2), "unsupported_version"),
        (key, with_(v=0), "unsupported_version"),
        (key, with_(kind="like"), "unknown_kind"),
        (key, with_(kind=""), "unknown_kind"),
        (key, with_(author=...), "missing_field"),
        (key, with_(created_at=...), "missing_field"),
        (key, with_(kind="reply", target_id=...), "missing_field"),  # a reply needs its target
        (key, b"{}", "missing_field"),
        (key, None, "invalid_json"),  # a null value
        (b"some-other-topic", template.to_json(), "key_mismatch"),
    ]


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def send_all(env: TrendingEnv, records: list[tuple[bytes | None, bytes | None]]) -> None:
    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=env.broker.bootstrap, max_request_size=8 * MB, linger_ms=5)
        await producer.start()
        try:
            for key, value in records:
                await (await producer.send(env.events_topic, key=key, value=value))
        finally:
            await producer.stop()

    asyncio.run(send())


def test_hostile_values_are_dead_lettered_and_never_disturb_the_numbers(trending_env: TrendingEnv) -> None:
    env = trending_env
    worker = env.start_worker()
    env.wait_for_workers()
    E = now_boundary()
    now = int(time.time() * 1000)
    valid = list(delivery(iter(TrafficGenerator(8, seed=11).actions(E - 30 * HOUR_MS, E, 300)), random.Random(11)))
    rng = random.Random(3)
    hostile: list[tuple[bytes | None, bytes | None, str]] = []
    for i, template in enumerate(rng.sample(valid, 39)):
        hostile.append(hostile_values(template, now)[i])
    assert len(hostile) == len(hostile_values(valid[0], now))  # every class, each on some topic's partition
    stream: list[tuple[bytes | None, bytes | None]] = [(e.key(), e.to_json()) for e in valid]
    for key, value, _ in hostile:
        stream.insert(rng.randrange(len(stream) + 1), (key, value))

    before = rss_kb(worker.pid)
    send_all(env, stream)
    materialize(env, E)
    after = rss_kb(worker.pid)

    assert env.snapshot(E) == expected_rows(valid, E)
    dead = read_topic(env, env.dlq_topic, expect=len(hostile), timeout=30)
    assert len(dead) == len(hostile)
    expected = sorted((value or b"", reason) for _, value, reason in hostile)
    received = []
    for record in dead:
        headers = dict(record.headers)
        value = record.value or b""
        assert headers["source"].startswith(f"{env.events_topic}/".encode())
        if "truncated_from" in headers:  # the multi-MB value: its head, and how big it was
            assert len(value) == MAX_DLQ_VALUE_BYTES
            value = next(v for v, _ in expected if len(v) == int(headers["truncated_from"]))
        received.append((value, headers["reason"].decode()))
    assert sorted(received) == expected
    assert after - before < 400 * 1024, f"RSS grew from {before} kB to {after} kB"
    assert worker.poll() is None
