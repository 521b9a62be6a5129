"""Load and validate kukuri-trending's configuration.

Values come, in increasing priority, from the packaged `config/app.toml`, the file named by
`--config` or `KUKURI_CONFIG`, and the kukuri-compatible `KUKURI_*` environment variables
(`ENV_OVERRIDES`). Every value is checked at start-up; a bad one raises `ConfigError` naming the
setting, so a typo never reaches a running worker. Each setting's default and meaning live on its
dataclass field; `python -m config.reference` renders them as docs/configuration.md.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.score_profiles import ProfileSettings

DEFAULT_CONFIG_PATH = Path(__file__).with_name("app.toml")
log = logging.getLogger("kukuri_trending.config")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_WINDOW_NAME = re.compile(r"^[0-9]+[mhd]$")
_KAFKA_URL = re.compile(r"^kafka://[A-Za-z0-9.\-_\[\]:]+:[0-9]+(,[A-Za-z0-9.\-_\[\]:]+:[0-9]+)*$")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names it."""


def setting(default: Any, doc: str) -> Any:
    """A setting with its default and its meaning; `config.reference` turns these into the docs."""
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the default score, `posts × posts + unique_authors × unique_authors + boosts × boosts`,
    over the 24 h window (`score_24h`) and the 6 h window (`score_6h`)."""

    posts: float = setting(0.6, "weight of `posts` (posts and replies) in the score")
    unique_authors: float = setting(0.3, "weight of `unique_authors` (distinct authors of posts and replies)")
    boosts: float = setting(0.1, "weight of `boosts` in the score")


@dataclass(frozen=True)
class MetricsSettings:
    """The snapshot job: when it runs, what it keeps and how it scores.

    Score profiles are defined as `[metrics.score_profiles.NAME]` tables (`formula`, the three
    weights, `min_authors`, `author_cap`, `count_self_boosts`, and for `rising` `baseline_hours`,
    `expected_floor`); docs/scoring.md explains them and the staged rollout. A computed profile with
    `author_cap` or without self-boosts makes the worker keep per-author boosts and classify
    self-boosts (and, without self-boosts, facts 24 h further back)."""

    enabled: bool = setting(True, "write snapshots; false keeps the worker consuming but writes nothing")
    interval_minutes: int = setting(
        5, "snapshot boundaries are multiples of this on the wall clock; a multiple of 5 that divides a day")
    ttl_hours: int = setting(48, "`topic_metrics` rows with `window_end < now - ttl_hours` are deleted after each snapshot")
    history_ttl_hours: int = setting(
        168, "`topic_metrics_history` rows (backfills, kept for `backfill --compare`) with "
             "`window_end < now - history_ttl_hours` are deleted after each backfill and snapshot; 0 = keep forever")
    prometheus_port: int = setting(0, "port of the Prometheus `/metrics` endpoint; 0 = off")
    bind_host: str = setting(
        "127.0.0.1", "address the `/metrics` endpoint binds; only containers (docker-compose) need 0.0.0.0")
    emit_histogram: bool = setting(False, "export `kukuri_trending_metrics_job_duration_seconds` as a histogram")
    score_profile: str = setting(
        "default",
        "the active score profile (docs/scoring.md): its scores fill `score_24h` / `score_6h`. The built-in "
        "`default` (linear, `[metrics.score_weights]`), the built-in `rising`, or any `[metrics.score_profiles.NAME]` "
        "table; `KUKURI_METRICS_SCORE_PROFILE` overrides it")
    shadow_profiles: tuple[str, ...] = setting(
        (), "profiles computed with every snapshot beside the active one and stored in `topic_profile_scores`, "
            "for `profiles compare` and `?profile=NAME`; they never change `topic_metrics`")
    score_weights: ScoreWeights = field(
        default_factory=ScoreWeights,
        metadata={"doc": "the default profile's weights; every profile inherits the weights it does not set"})
    profiles: ProfileSettings = field(
        default_factory=lambda: _default_profiles(), metadata={"derived": True})
    extra_windows: Mapping[str, int] = field(
        default_factory=dict,
        metadata={"doc": "trailing windows beside 24h and 6h, name = minutes (`\"1h\" = 60`, `\"7d\" = 10080`), "
                         "written to `topic_window_metrics`"})
    reconcile_interval_minutes: int = setting(60, "the worker reconciles the latest boundary this often; 0 = off")
    stale_after_minutes: int = setting(
        15, "the read API serves live fallback numbers once the newest snapshot is older than this "
            "(default: 3 × `interval_minutes`)")
    row_count_margin: float = setting(
        0.25, "warn when `topic_metrics` holds more rows than the snapshots within the TTL can explain, "
              "by more than this fraction (or when rows older than the TTL survive a run)")


@dataclass(frozen=True)
class StreamSettings:
    """The worker's local state and the time rules for events."""

    data_dir: Path = setting(Path("data/state"), "directory of the worker's local state (RocksDB)")
    max_clock_skew_seconds: int = setting(
        300, "events whose `created_at` is further ahead of the worker's clock go to the dead-letter topic")
    late_grace_minutes: int = setting(
        10, "events older than the longest window plus this are dropped as late (0..30)")
    checkpoint_max_events: int = setting(
        5000, "events read, folded and checkpointed (facts and offsets in one write) at most at once")
    bootstrap_from_app_db: bool = setting(
        True, "rebuild a partition's state from the app database when the broker no longer holds its history")


@dataclass(frozen=True)
class KafkaSettings:
    """The broker, the topics and the consumer group."""

    broker: str = setting(
        "embedded",
        "`embedded` (the Tansu broker `run` starts) or `kafka://host:port[,host:port]`")
    events_topic: str = setting("kukuri.trending.events", "topic the producers write events to (docs/events.md)")
    dlq_topic: str = setting("kukuri.trending.events.dlq", "dead-letter topic for rejected events")
    partitions: int = setting(4, "partition count of both topics; must match the topics if you create them")
    group_id: str = setting("kukuri-trending", "consumer group shared by all workers")
    session_timeout_seconds: float = setting(
        10.0, "consumer-group session timeout (Apache Kafka's minimum is 6 s; with the embedded broker "
              "`run` and `worker` use 3 s)")
    heartbeat_interval_seconds: float = setting(
        3.0, "consumer-group heartbeat interval, below the session timeout (embedded broker: 1 s)")
    startup_timeout_seconds: float = setting(
        60.0, "how long `worker` waits for the broker at start-up, retrying with backoff, before it gives up")

    @property
    def embedded(self) -> bool:
        return self.broker == "embedded"

    @property
    def bootstrap_servers(self) -> str:
        """`host:port[,host:port]` of an external broker (not valid for the embedded one)."""
        if self.embedded:
            raise ConfigError("kafka.broker: the embedded broker has no fixed address before it starts")
        return self.broker.removeprefix("kafka://")


@dataclass(frozen=True)
class DatabaseSettings:
    """The app database (SQLite) the snapshots are written into."""

    path: Path = setting(
        Path("data/kukuri.db"),
        "the app database file; only `run` and `migrate` create it, every other command needs it to exist")
    busy_timeout_ms: int = setting(5000, "how long a write waits for the app's lock before it counts as a failure")


@dataclass(frozen=True)
class ApiSettings:
    """The read API and dashboard."""

    host: str = setting("127.0.0.1", "address the read API binds")
    port: int = setting(8080, "port of the read API; 0 picks a free one")
    feed_max_clients: int = setting(
        1000, "live feed connections served at once; one more is closed with code 1013 (try again later)")
    feed_max_message_bytes: int = setting(1024, "largest message a feed client may send; larger closes with 1009")
    feed_heartbeat_seconds: float = setting(
        30.0, "the feed pings each client this often and drops one that does not answer within half of it")


@dataclass(frozen=True)
class AlertSettings:
    """Alerts posted by the workers to a webhook."""

    webhook_url: str = setting("", "Slack-compatible incoming webhook (http or https); empty = off")
    consecutive_failures: int = setting(2, "alert after this many failed snapshot runs in a row")
    stale_after_minutes: int = setting(10, "alert when no snapshot has been committed for this long")
    slack_channel: str = setting("#alerts-trending", "channel named in the webhook payload; empty = the webhook's own")
    sentry_dsn: str = setting("", "Sentry DSN for job failures, fatal errors and uncaught exceptions; empty = off")


@dataclass(frozen=True)
class BackoffSettings:
    """Retries of a failed snapshot run."""

    failures_before_skip: int = setting(3, "after this many failed runs in a row, skip runs for `skip_minutes`")
    skip_minutes: int = setting(15, "how long to skip runs after repeated failures (one probe run per period)")
    initial_retry_seconds: float = setting(0.5, "first retry delay within a run (transient errors only)")
    max_retry_seconds: float = setting(30.0, "longest retry delay within a run")


@dataclass(frozen=True)
class Settings:
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    backoff: BackoffSettings = field(default_factory=BackoffSettings)
    source: Path | None = None

    @property
    def interval_ms(self) -> int:
        return self.metrics.interval_minutes * 60_000


# (environment variable, dotted setting): kukuri's own variables, plus a few for deployments.
ENV_OVERRIDES: tuple[tuple[str, str], ...] = (
    ("KUKURI_METRICS_ENABLED", "metrics.enabled"),
    ("KUKURI_METRICS_INTERVAL_MINUTES", "metrics.interval_minutes"),
    ("KUKURI_METRICS_TTL_HOURS", "metrics.ttl_hours"),
    ("KUKURI_METRICS_HISTORY_TTL_HOURS", "metrics.history_ttl_hours"),
    ("KUKURI_METRICS_WEIGHT_POSTS", "metrics.score_weights.posts"),
    ("KUKURI_METRICS_WEIGHT_UNIQUE_AUTHORS", "metrics.score_weights.unique_authors"),
    ("KUKURI_METRICS_WEIGHT_BOOSTS", "metrics.score_weights.boosts"),
    ("KUKURI_METRICS_PROMETHEUS_PORT", "metrics.prometheus_port"),
    ("KUKURI_METRICS_EMIT_HISTOGRAM", "metrics.emit_histogram"),
    ("KUKURI_METRICS_BIND_HOST", "metrics.bind_host"),
    ("KUKURI_KAFKA_BROKER", "kafka.broker"),
    ("KUKURI_KAFKA_PARTITIONS", "kafka.partitions"),
    ("KUKURI_ALERTS_WEBHOOK_URL", "alerts.webhook_url"),
    ("KUKURI_SENTRY_DSN", "alerts.sentry_dsn"),
    ("KUKURI_DATABASE_PATH", "database.path"),
    ("KUKURI_API_HOST", "api.host"),
    ("KUKURI_API_PORT", "api.port"),
    ("KUKURI_API_FEED_MAX_CLIENTS", "api.feed_max_clients"),
    ("KUKURI_API_FEED_MAX_MESSAGE_BYTES", "api.feed_max_message_bytes"),
    ("KUKURI_API_FEED_HEARTBEAT_SECONDS", "api.feed_heartbeat_seconds"),
    ("KUKURI_STATE_DIR", "stream.data_dir"),
)


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the defaults, the optional user file and the environment; validate everything."""
    env = os.environ if environ is None else environ
    raw = _read_toml(DEFAULT_CONFIG_PATH)
    user_path = path if path is not None else env.get("KUKURI_CONFIG")
    source: Path | None = None
    if user_path:
        source = Path(user_path)
        if not source.is_file():
            raise ConfigError(f"--config/KUKURI_CONFIG: no such file: {source}")
        _deep_merge(raw, _read_toml(source))
    for var, dotted in ENV_OVERRIDES:
        if var in env:
            _set_dotted(raw, dotted, _EnvValue(var, env[var]))
    return _build(raw, source, env)


@dataclass(frozen=True)
class _EnvValue:
    """A string from the environment, converted by the setting's own parser."""

    var: str
    text: str


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


class _Section:
    """Typed access to one table of the merged configuration, naming `section.key` in errors."""

    def __init__(self, value: Mapping[str, Any], name: str) -> None:
        self._raw = value
        self._name = name
        self._seen: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def _get(self, key: str, default: Any) -> tuple[str, Any]:
        self._seen.add(key)
        return f"{self._name}.{key}", self._raw.get(key, default)

    def boolean(self, key: str, default: bool) -> bool:
        name, value = self._get(key, default)
        if isinstance(value, _EnvValue):
            text = value.text.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ConfigError(f"{name} ({value.var}): expected 1/true/yes/on or 0/false/no/off, got {value.text!r}")
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int, *, low: int, high: int | None = None) -> int:
        name, value = self._get(key, default)
        label = f"{name} ({value.var})" if isinstance(value, _EnvValue) else name
        if isinstance(value, _EnvValue):
            try:
                value = int(value.text.strip())
            except ValueError:
                raise ConfigError(f"{label}: expected an integer, got {value.text!r}") from None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{label}: expected an integer, got {value!r}")
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"{label}: must be {bounds}, got {value}")
        return value

    def number(self, key: str, default: float, *, low: float, exclusive_low: bool = False) -> float:
        name, value = self._get(key, default)
        label = f"{name} ({value.var})" if isinstance(value, _EnvValue) else name
        if isinstance(value, _EnvValue):
            try:
                value = float(value.text.strip())
            except ValueError:
                raise ConfigError(f"{label}: expected a number, got {value.text!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{label}: expected a number, got {value!r}")
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigError(f"{label}: must be a finite number, got {value!r}")
        if number < low or (exclusive_low and number == low):
            raise ConfigError(f"{label}: must be {'>' if exclusive_low else '>='} {low}, got {value!r}")
        return number

    def string(self, key: str, default: str) -> str:
        name, value = self._get(key, default)
        if isinstance(value, _EnvValue):
            return value.text.strip()
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {value!r}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        name, value = self._get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
        return tuple(value)

    def table(self, key: str) -> Mapping[str, Any]:
        name, value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}: must be a table")
        return value

    def reject_unknown(self, allowed_tables: tuple[str, ...] = ()) -> None:
        unknown = sorted(set(self._raw) - self._seen - set(allowed_tables))
        if unknown:
            raise ConfigError(f"{self._name}.{unknown[0]}: unknown setting")


def _section(raw: Mapping[str, Any], name: str) -> _Section:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a table")
    return _Section(value, name)


def _weights(raw: Mapping[str, Any], name: str) -> ScoreWeights:
    section = _Section(raw, name)
    weights = ScoreWeights(
        posts=section.number("posts", 0.6, low=0.0),
        unique_authors=section.number("unique_authors", 0.3, low=0.0),
        boosts=section.number("boosts", 0.1, low=0.0),
    )
    section.reject_unknown()
    return weights


def window_minutes(name: str) -> int:
    """Minutes in a window named like `90m`, `1h` or `7d`."""
    unit = {"m": 1, "h": 60, "d": 1440}[name[-1]]
    return int(name[:-1]) * unit


def _extra_windows(table: Mapping[str, Any]) -> dict[str, int]:
    windows: dict[str, int] = {}
    for name, minutes in table.items():
        label = f"metrics.extra_windows.{name}"
        if not _WINDOW_NAME.match(name):
            raise ConfigError(f"{label}: window names look like 60m, 1h or 7d")
        if name in ("24h", "6h"):
            raise ConfigError(f"{label}: 24h and 6h are always computed")
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes <= 0 or minutes % 5:
            raise ConfigError(f"{label}: must be a positive whole number of minutes divisible by 5")
        if window_minutes(name) != minutes:
            raise ConfigError(f"{label}: the name says {window_minutes(name)} minutes, the value {minutes}")
        windows[name] = minutes
    return windows


def _default_profiles() -> ProfileSettings:
    # Imported here: config.score_profiles builds on this module's ScoreWeights and ConfigError.
    from config.score_profiles import load_score_profiles

    return load_score_profiles({}, ScoreWeights(), {})


def _profiles(m: _Section, weights: ScoreWeights, env: Mapping[str, str]) -> ProfileSettings:
    """The score profiles of the `[metrics]` table, with the environment's overrides."""
    from config.score_profiles import PROFILE_ENV, WEIGHT_ENV, load_score_profiles

    table = {
        "score_profile": m.string("score_profile", "default"),
        "shadow_profiles": list(m.string_list("shadow_profiles")),
        "score_profiles": m.table("score_profiles"),
    }
    profile_env = {var: env[var] for var in (PROFILE_ENV, *WEIGHT_ENV.values()) if var in env}
    return load_score_profiles(table, weights, profile_env)


def _build(raw: Mapping[str, Any], source: Path | None, env: Mapping[str, str]) -> Settings:
    unknown = sorted(set(raw) - {"metrics", "stream", "kafka", "database", "api", "alerts", "backoff"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section")

    m = _section(raw, "metrics")
    weights = _weights(m.table("score_weights"), "metrics.score_weights")
    profiles = _profiles(m, weights, env)
    interval = m.integer("interval_minutes", 5, low=5, high=1440)
    if interval % 5 or 1440 % interval:
        raise ConfigError(
            f"metrics.interval_minutes: must be a multiple of the 5-minute pane that divides a day, got {interval}"
        )
    metrics = MetricsSettings(
        enabled=m.boolean("enabled", True),
        interval_minutes=interval,
        ttl_hours=m.integer("ttl_hours", 48, low=1),
        history_ttl_hours=m.integer("history_ttl_hours", 168, low=0),
        prometheus_port=m.integer("prometheus_port", 0, low=0, high=65535),
        bind_host=m.string("bind_host", "127.0.0.1"),
        emit_histogram=m.boolean("emit_histogram", False),
        score_profile=profiles.active.name,
        shadow_profiles=tuple(p.name for p in profiles.shadows),
        score_weights=weights,
        profiles=profiles,
        extra_windows=_extra_windows(m.table("extra_windows")),
        reconcile_interval_minutes=m.integer("reconcile_interval_minutes", 60, low=0),
        # Stale after 3 intervals (15 minutes at the default 5).
        stale_after_minutes=m.integer("stale_after_minutes", 3 * interval, low=1),
        row_count_margin=m.number("row_count_margin", 0.25, low=0.0),
    )
    if "row_count_warning" in m:
        # Replaced by row_count_margin in 0.2: an absolute row limit fired on ordinary traffic.
        m.integer("row_count_warning", 100_000, low=1)
        log.warning("metrics.row_count_warning is no longer used and is ignored; see metrics.row_count_margin")
    m.reject_unknown()

    s = _section(raw, "stream")
    stream = StreamSettings(
        data_dir=Path(s.string("data_dir", "data/state")),
        max_clock_skew_seconds=s.integer("max_clock_skew_seconds", 300, low=0),
        # At most the half hour that staged snapshot parts are kept (sinks.storage.snapshots).
        late_grace_minutes=s.integer("late_grace_minutes", 10, low=0, high=30),
        checkpoint_max_events=s.integer("checkpoint_max_events", 5000, low=1),
        bootstrap_from_app_db=s.boolean("bootstrap_from_app_db", True),
    )
    s.reject_unknown()

    k = _section(raw, "kafka")
    broker = k.string("broker", "embedded")
    if broker != "embedded" and not _KAFKA_URL.match(broker):
        raise ConfigError(f"kafka.broker: expected \"embedded\" or kafka://host:port[,host:port], got {broker!r}")
    kafka = KafkaSettings(
        broker=broker,
        events_topic=_topic_name(k.string("events_topic", "kukuri.trending.events"), "kafka.events_topic"),
        dlq_topic=_topic_name(k.string("dlq_topic", "kukuri.trending.events.dlq"), "kafka.dlq_topic"),
        partitions=k.integer("partitions", 4, low=1, high=1024),
        group_id=_topic_name(k.string("group_id", "kukuri-trending"), "kafka.group_id"),
        session_timeout_seconds=k.number("session_timeout_seconds", 10.0, low=1.0),
        heartbeat_interval_seconds=k.number("heartbeat_interval_seconds", 3.0, low=0.0, exclusive_low=True),
        startup_timeout_seconds=k.number("startup_timeout_seconds", 60.0, low=0.0),
    )
    k.reject_unknown()
    if kafka.heartbeat_interval_seconds >= kafka.session_timeout_seconds:
        raise ConfigError("kafka.heartbeat_interval_seconds: must be below kafka.session_timeout_seconds")

    d = _section(raw, "database")
    db_path = d.string("path", "data/kukuri.db")
    if not db_path:
        raise ConfigError("database.path: must not be empty")
    database = DatabaseSettings(path=Path(db_path), busy_timeout_ms=d.integer("busy_timeout_ms", 5000, low=0))
    d.reject_unknown()

    a = _section(raw, "api")
    api = ApiSettings(
        host=a.string("host", "127.0.0.1"),
        port=a.integer("port", 8080, low=0, high=65535),
        feed_max_clients=a.integer("feed_max_clients", 1000, low=1),
        feed_max_message_bytes=a.integer("feed_max_message_bytes", 1024, low=1),
        feed_heartbeat_seconds=a.number("feed_heartbeat_seconds", 30.0, low=0.0, exclusive_low=True),
    )
    if not metrics.bind_host:
        raise ConfigError("metrics.bind_host: must not be empty")
    if not api.host:
        raise ConfigError("api.host: must not be empty")
    a.reject_unknown()

    al = _section(raw, "alerts")
    webhook = al.string("webhook_url", "")
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"alerts.webhook_url: expected an http(s) URL, got {webhook!r}")
    alerts = AlertSettings(
        webhook_url=webhook,
        consecutive_failures=al.integer("consecutive_failures", 2, low=1),
        stale_after_minutes=al.integer("stale_after_minutes", 10, low=1),
        slack_channel=al.string("slack_channel", "#alerts-trending"),
        sentry_dsn=al.string("sentry_dsn", ""),
    )
    if any(c.isspace() for c in alerts.slack_channel):
        raise ConfigError(f"alerts.slack_channel: a channel name has no spaces, got {alerts.slack_channel!r}")
    if alerts.sentry_dsn and not alerts.sentry_dsn.startswith(("http://", "https://")):
        raise ConfigError("alerts.sentry_dsn (KUKURI_SENTRY_DSN): expected an http(s) DSN from the Sentry project settings")
    al.reject_unknown()

    b = _section(raw, "backoff")
    backoff = BackoffSettings(
        failures_before_skip=b.integer("failures_before_skip", 3, low=1),
        skip_minutes=b.integer("skip_minutes", 15, low=0),
        initial_retry_seconds=b.number("initial_retry_seconds", 0.5, low=0.0, exclusive_low=True),
        max_retry_seconds=b.number("max_retry_seconds", 30.0, low=0.0, exclusive_low=True),
    )
    b.reject_unknown()

    return Settings(metrics, stream, kafka, database, api, alerts, backoff, source)


def _topic_name(value: str, name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._\-]{1,249}", value):
        raise ConfigError(f"{name}: Kafka names use letters, digits, '.', '_' and '-', got {value!r}")
    return value
