"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The compose file is read as Compose reads it (YAML merge keys included), and every kukuri-trending
container's environment is fed to the real settings loader and its command to the real CLI parser,
so a renamed variable, a bad value or a misspelt subcommand fails here and not at `docker compose up`.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from cli.main import build_parser
from config.settings import ENV_OVERRIDES, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
KUKURI = {name: s for name, s in SERVICES.items() if s.get("image", "").startswith("kukuri-trending")}
KNOWN_ENV = {var for var, _ in ENV_OVERRIDES} | {"KUKURI_CONFIG"}
BIND_HOST_VAR = "KUKURI_METRICS_BIND_HOST"


def subcommand(service: dict[str, Any]) -> str:
    args = build_parser().parse_args(service["command"])
    return args.command


WORKERS = sorted(name for name, s in KUKURI.items() if subcommand(s) == "worker")


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in service.get("environment", {}).items()}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (named volume or host path) of a service's volumes."""
    result = {}
    for spec in service.get("volumes", []):
        source, target, *_ = spec.split(":")
        result[target] = source
    return result


def settings_of(name: str) -> Settings:
    """The settings the container would load: its environment plus the mounted config file."""
    variables = env(SERVICES[name])
    config_target = variables["KUKURI_CONFIG"]
    host_config = ROOT / mounts(SERVICES[name])[config_target]
    return load_settings(environ={**variables, "KUKURI_CONFIG": str(host_config)})


def volume_holding(service: dict[str, Any], path: Path) -> str | None:
    """The named volume whose mount point contains `path` inside the container."""
    for target, source in mounts(service).items():
        if PurePosixPath(path).is_relative_to(target) and not source.startswith("."):
            return source
    return None


# --- the broker -------------------------------------------------------------------------------


def test_kafka_is_the_official_image_in_kraft_mode_without_zookeeper() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    variables = env(kafka)
    assert set(variables["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert variables["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{variables['KAFKA_NODE_ID']}@kafka:9093"
    assert variables["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "PLAINTEXT://kafka:9092" in variables["KAFKA_ADVERTISED_LISTENERS"]
    assert not [name for name in SERVICES if "zookeeper" in name]
    assert not [var for service in SERVICES.values() for var in env(service) if "ZOOKEEPER" in var]
    assert mounts(kafka)[variables["KAFKA_LOG_DIRS"]] == "kafka-data"


def test_topic_init_creates_the_configured_topics_with_history_to_rebuild_from() -> None:
    init = SERVICES["kafka-init"]
    assert init["restart"] == "no"
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    script = init["command"][0].replace("\\\n", " ")
    created = {}
    for line in script.splitlines():
        words = shlex.split(line.replace("$$", "$"))
        if "--create" in words:
            options = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w.startswith("--")}
            created[options["--topic"]] = options
    settings = settings_of(WORKERS[0])
    events, dlq = created[settings.kafka.events_topic], created[settings.kafka.dlq_topic]
    for topic in (events, dlq):
        assert int(topic["--partitions"]) == settings.kafka.partitions
        assert topic["--bootstrap-server"] == settings.kafka.bootstrap_servers
    retention_ms = int(events["--config"].removeprefix("retention.ms="))
    assert retention_ms == 7 * 24 * 3_600_000
    # A worker that takes over a partition replays its last 48 h (+ grace) from the topic.
    assert retention_ms > (48 * 60 + settings.stream.late_grace_minutes) * 60_000


# --- kukuri-trending containers ---------------------------------------------------------------


def test_the_roles_are_there() -> None:
    assert {subcommand(s) for s in KUKURI.values()} >= {"worker", "api", "migrate", "produce"}
    assert len(WORKERS) == 2


@pytest.mark.parametrize("name", sorted(KUKURI))
def test_commands_parse_with_the_real_cli(name: str) -> None:
    args = build_parser().parse_args(KUKURI[name]["command"])
    assert args.log_format == "json"
    assert callable(args.handler)


@pytest.mark.parametrize("name", sorted(KUKURI))
def test_environment_names_are_real_settings(name: str) -> None:
    unknown = {var for var in env(KUKURI[name]) if var.startswith("KUKURI_")} - KNOWN_ENV - {BIND_HOST_VAR}
    assert not unknown, f"{name}: not in config.settings.ENV_OVERRIDES: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(KUKURI))
def test_settings_load_inside_each_container(name: str) -> None:
    settings = settings_of(name)
    assert settings.kafka.broker == "kafka://kafka:9092"
    assert settings.kafka.bootstrap_servers.split(":")[0] in SERVICES


def test_metrics_bind_host_override_is_a_setting() -> None:
    assert BIND_HOST_VAR in KNOWN_ENV
    assert {env(KUKURI[name]).get(BIND_HOST_VAR) for name in [*WORKERS, "api"]} == {"0.0.0.0"}


def test_the_config_file_is_mounted_where_kukuri_config_points() -> None:
    for name, service in KUKURI.items():
        target = env(service)["KUKURI_CONFIG"]
        source = mounts(service)[target]
        assert (ROOT / source).is_file(), name
        assert service["volumes"][0].endswith(":ro"), name


def test_workers_share_the_database_and_keep_their_own_state() -> None:
    state_volumes = set()
    for name in WORKERS:
        service, settings = SERVICES[name], settings_of(name)
        assert not settings.kafka.embedded
        assert volume_holding(service, settings.database.path) == "db"
        state = volume_holding(service, settings.stream.data_dir)
        assert state is not None and state != "db"
        state_volumes.add(state)
    assert len(state_volumes) == len(WORKERS)
    assert volume_holding(SERVICES["api"], settings_of("api").database.path) == "db"
    assert volume_holding(SERVICES["migrate"], settings_of("migrate").database.path) == "db"


def test_workers_start_after_topics_and_migrations() -> None:
    for name in WORKERS:
        deps = SERVICES[name]["depends_on"]
        assert deps["kafka-init"]["condition"] == "service_completed_successfully"
        assert deps["migrate"]["condition"] == "service_completed_successfully"


def test_real_kafka_gets_a_session_timeout_it_accepts() -> None:
    # Apache Kafka rejects sessions below group.min.session.timeout.ms (6 s by default).
    for name in WORKERS:
        kafka = settings_of(name).kafka
        assert kafka.session_timeout_seconds >= 6
        assert kafka.heartbeat_interval_seconds * 3 <= kafka.session_timeout_seconds


def test_the_api_listens_on_all_container_interfaces_and_publishes_on_loopback() -> None:
    settings = settings_of("api")
    assert settings.api.host == "0.0.0.0"
    assert SERVICES["api"]["ports"] == [f"127.0.0.1:{settings.api.port}:{settings.api.port}"]


def test_published_ports_are_loopback_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_metrics_ports_are_not_published_but_scraped() -> None:
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        target for job in prometheus["scrape_configs"] for group in job["static_configs"] for target in group["targets"]
    }
    expected = set()
    for name in [*WORKERS, "api"]:
        port = settings_of(name).metrics.prometheus_port
        assert port > 0
        expected.add(f"{name}:{port}")
        assert all(str(p).split(":")[-1] != str(port) for p in SERVICES[name].get("ports", []))
    assert targets == expected


def test_named_volumes_are_declared() -> None:
    used = {
        source for service in SERVICES.values() for source in mounts(service).values() if not source.startswith(".")
    }
    assert used == set(COMPOSE["volumes"])


def test_host_paths_exist() -> None:
    for name, service in SERVICES.items():
        for source in mounts(service).values():
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_prometheus_and_grafana_get_their_provisioning() -> None:
    prometheus = SERVICES["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    assert mounts(prometheus)["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    grafana = SERVICES["grafana"]
    assert grafana["image"].startswith("grafana/grafana:")
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/kukuri-trending.yml").read_text())
    assert mounts(grafana)[provider["providers"][0]["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts(grafana)["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


# --- the image --------------------------------------------------------------------------------


DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def test_image_is_python_311_slim_run_as_a_user_with_the_cli_as_entrypoint() -> None:
    steps = instructions()
    assert all(arg.split()[0] == "python:3.11-slim" for op, arg in steps if op == "FROM")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [script] = pyproject["project"]["scripts"]
    assert [arg for op, arg in steps if op == "ENTRYPOINT"] == [f'["{script}"]']
    assert any(op == "RUN" and "pip install" in arg and "kukuri-trending" in arg for op, arg in steps)


def test_image_defaults_put_data_where_the_volumes_are() -> None:
    env_lines = " ".join(arg for op, arg in instructions() if op == "ENV")
    defaults = dict(re.findall(r"(KUKURI_[A-Z_]+)=(\S+)", env_lines))
    assert defaults
    settings = load_settings(environ=defaults)
    created = re.search(r"mkdir -p ([^&]+)", DOCKERFILE)
    assert created is not None
    directories = created.group(1).split()
    assert str(settings.database.path.parent) in directories
    assert str(settings.stream.data_dir) in directories


def test_dockerignore_keeps_the_build_context_small_but_complete() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "data"} <= ignored
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert not packages & ignored
    assert "pyproject.toml" not in ignored
