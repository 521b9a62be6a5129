"""The worker through the real parts: the session's Tansu broker, `kukuri-trending` subprocesses and
a real SQLite file. Every snapshot is compared, column by column, with tests.oracle."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request

import pytest
from aiokafka import AIOKafkaConsumer

from broker.embedded import free_loopback_port
from producer.synthetic import TrafficGenerator, delivery
from streams.aggregation import boundary_for
from streams.events import Event
from streams.windows import HOUR_MS, MINUTE_MS
from tests.fixtures.net import listening_addresses
from tests.fixtures.trending_env import TrendingEnv
from tests.oracle import expected_rows

pytestmark = pytest.mark.integration


def now_boundary() -> int:
    return boundary_for(int(time.time() * 1000), 5 * MINUTE_MS)


def known_events(E: int) -> list[Event]:
    """A hand-made fact set: boundaries, multi-topic posts, every kind, deletes both ways round."""
    def e(event_id: str, kind: str, topic: str, author: str, t: int, target: str | None = None) -> Event:
        return Event(event_id=event_id, kind=kind, topic_id=topic, author=author, created_at=t,  # type: ignore[arg-type]
                     target_id=target)

    return [
        e("p-start", "post", "rust", "alice", E - 24 * HOUR_MS),  # counts: the window is half-open
        e("p-at-E", "post", "rust", "bob", E),  # does not count in W24 of E
        e("p-6h", "post", "rust", "carol", E - 6 * HOUR_MS),
        e("p-prev", "post", "rust", "dave", E - 24 * HOUR_MS - 1),  # previous 24 h only
        e("p-multi", "post", "rust", "erin", E - HOUR_MS),
        e("p-multi", "post", "cats", "erin", E - HOUR_MS),  # same fact in a second topic
        e("r-1", "reply", "rust", "frank", E - 30 * MINUTE_MS, "p-6h"),
        e("b-1", "boost", "rust", "gina", E - 2 * HOUR_MS, "p-start"),
        e("b-1", "boost", "rust", "gina", E - 2 * HOUR_MS, "p-start"),  # duplicate
        e("k-1", "bookmark", "cats", "hugo", E - 3 * HOUR_MS, "p-multi"),
        e("d-1", "delete", "cats", "erin", E - 20 * MINUTE_MS, "k-1"),  # un-bookmark after the fact
        e("d-2", "delete", "rust", "ivan", E - 10 * MINUTE_MS, "p-late-target"),  # before its target
        e("p-late-target", "post", "rust", "ivan", E - 40 * MINUTE_MS),
        e("p-old", "post", "cats", "jane", E - 47 * HOUR_MS),
        e("b-old", "boost", "cats", "kim", E - 30 * HOUR_MS, "p-old"),
        e("p-ancient", "post", "cats", "lee", E - 49 * HOUR_MS),  # older than the retention: late
        e("p-edge-prev", "post", "dogs", "mia", E - 48 * HOUR_MS),
    ]


def produce_events(env: TrendingEnv, events: list[Event]) -> None:
    lines = b"\n".join(e.to_json() for e in events)
    result = env.cli("produce", "--file", "-", "--json", input=lines)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == len(events)


def materialize(env: TrendingEnv, boundary: int) -> dict:
    result = env.cli("materialize", "--at", str(boundary), "--json")
    assert result.returncode == 0, result.stderr + env.logs()[-3000:]
    return json.loads(result.stdout)


def assert_snapshot(env: TrendingEnv, events: list[Event], boundary: int, cutoff: int) -> None:
    expected = expected_rows([e for e in events if e.created_at >= cutoff], boundary)
    assert env.snapshot(boundary) == expected
    (run,) = env.query("SELECT source, topics_upserted FROM trending_runs WHERE window_end = ?", (boundary,))
    assert run == ("stream", len(expected))


def read_topic(env: TrendingEnv, topic: str, expect: int, timeout: float = 15) -> list:
    async def consume() -> list:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=env.broker.bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False)
        await consumer.start()
        records = []
        try:
            deadline = time.monotonic() + timeout
            while len(records) < expect and time.monotonic() < deadline:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        finally:
            await consumer.stop()
        return records

    return asyncio.run(consume())


def test_snapshot_equals_independent_computation_and_bad_events_reach_the_dlq(trending_env: TrendingEnv) -> None:
    env = trending_env
    env.start_worker()
    env.wait_for_workers()
    E = now_boundary()
    events = known_events(E)
    produce_events(env, events)
    bad = [
        b"this is not json",
        b'{"v": 1, "event_id": "x1", "kind": "post", "topic_id": "rust", "created_at": 1}',
        b'{"v": 1, "event_id": "x2", "kind": "like", "topic_id": "rust", "author": "a", "created_at": 1}',
        b'{"v": 1, "event_id": "x3", "kind": "post", "topic_id": "rust", "author": "a", "created_at": "soon"}',
        json.dumps({"v": 1, "event_id": "x4", "kind": "post", "topic_id": "rust", "author": "a",
                    "created_at": int(time.time() * 1000) + 3_600_000}).encode(),
        # Valid JSON, but a lone surrogate cannot become a key: it must not stop the partition.
        b'{"v": 1, "event_id": "\\ud800", "kind": "post", "topic_id": "rust", "author": "a", "created_at": 1}',
    ]
    result = env.cli("produce", "--file", "-", "--raw", input=b"\n".join(bad))
    assert result.returncode == 0, result.stderr
    materialize(env, E)
    assert_snapshot(env, events, E, cutoff=E - 48 * HOUR_MS - 10 * MINUTE_MS)
    dead = read_topic(env, env.dlq_topic, expect=len(bad))
    assert sorted(r.value for r in dead) == sorted(bad)
    reasons = sorted(dict(r.headers)["reason"].decode() for r in dead)
    assert reasons == ["bad_value", "future_timestamp", "invalid_json", "missing_field", "unknown_kind", "wrong_type"]


def test_same_snapshot_after_sigterm_restart_and_on_a_new_worker(trending_env: TrendingEnv) -> None:
    env = trending_env
    E = now_boundary()
    generator = TrafficGenerator(12, seed=5)
    actions = list(generator.actions(E - 30 * HOUR_MS, E, 1500))
    events = list(delivery(iter(actions), random.Random(5)))
    produce_events(env, events[:900])
    worker = env.start_worker()
    env.wait_for_workers()
    produce_events(env, events[900:])
    materialize(env, E)
    first = env.snapshot(E)
    assert first == expected_rows(events, E)

    assert env.stop_worker(worker) == 0
    env.start_worker()  # same data dir: restores from RocksDB and resumes at its checkpoint
    env.wait_for_workers()
    materialize(env, E)
    assert env.snapshot(E) == first
    for proc in list(env.workers):
        if proc.poll() is None:
            env.stop_worker(proc)

    env.start_worker(data_dir=env.root / "fresh-state")  # empty data dir: rebuilt from Kafka
    env.wait_for_workers()
    materialize(env, E)
    assert env.snapshot(E) == first


def test_two_workers_write_one_complete_snapshot(trending_env: TrendingEnv) -> None:
    env = trending_env
    E = now_boundary()
    events = list(delivery(iter(TrafficGenerator(30, seed=9).actions(E - 20 * HOUR_MS, E, 1200)), random.Random(9)))
    env.start_worker(name="a")
    env.start_worker(data_dir=env.root / "state-b", name="b")
    env.wait_for_workers(count=2)
    owners = env.query("SELECT partitions FROM trending_workers")
    assert all(json.loads(p) for (p,) in owners), owners  # both own partitions
    produce_events(env, events)
    materialize(env, E)
    assert env.snapshot(E) == expected_rows(events, E)
    assert env.query("SELECT COUNT(*) FROM snapshot_parts WHERE window_end = ?", (E,)) == [(4,)]
    assert env.query("SELECT COUNT(DISTINCT partition) FROM materialize_acks WHERE window_end = ?", (E,)) == [(4,)]


def test_materialize_without_a_worker_fails_clearly(trending_env: TrendingEnv) -> None:
    assert trending_env.cli("migrate").returncode == 0
    result = trending_env.cli("materialize", "--timeout", "2")
    assert result.returncode == 1
    assert "no running worker" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("materialize", "--at", "yesterday"),
        ("materialize", "--at", str(int(time.time() * 1000) - 3_600_000)),  # older than the state: reconcile
        ("produce", "--rate", "-3"),
        ("produce",),
        ("frobnicate",),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(trending_env: TrendingEnv, args: tuple[str, ...]) -> None:
    result = trending_env.cli(*args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_produce_rejects_an_invalid_file_and_sends_nothing(trending_env: TrendingEnv) -> None:
    events_file = trending_env.root / "events.jsonl"
    events_file.write_text('{"v": 1, "kind": "post"}\n')
    result = trending_env.cli("produce", "--file", str(events_file))
    assert result.returncode == 1
    assert "events.jsonl:1: missing_field" in result.stderr


def test_worker_exports_prometheus_metrics_on_loopback(trending_env: TrendingEnv) -> None:
    env = trending_env
    port = free_loopback_port()
    env.write_config(f"[metrics]\nprometheus_port = {port}\nemit_histogram = true\n")
    worker = env.start_worker()
    env.wait_for_workers()
    E = now_boundary()
    events = known_events(E)
    produce_events(env, events)
    assert env.cli("produce", "--file", "-", "--raw", input=b"not json").returncode == 0
    materialize(env, E)
    assert {host for host, _ in listening_addresses(worker.pid)} == {"127.0.0.1"}

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()

    env.wait_until(lambda: 'kukuri_trending_events_total{kind="post",result="counted"}' in scrape(), 30, "stream metrics")
    text = scrape()
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples["kukuri_trending_metrics_job_runs_total"] >= 1
    assert samples["kukuri_trending_metrics_job_topics_upserted"] == len(expected_rows(events, E))
    assert samples["kukuri_trending_metrics_job_window_end_ms"] == E
    assert samples["kukuri_trending_metrics_score_weight_posts"] == 0.6
    assert samples['kukuri_trending_events_total{kind="boost",result="duplicate"}'] == 1
    assert samples['kukuri_trending_events_total{kind="post",result="late"}'] == 1
    assert samples['kukuri_trending_events_total{kind="post",result="retracted"}'] == 1
    assert samples['kukuri_trending_dead_letters_total{reason="invalid_json"}'] == 1
    assert 'kukuri_trending_metrics_job_duration_seconds_bucket{le="0.05"}' in samples
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
    assert missing.value.code == 404
