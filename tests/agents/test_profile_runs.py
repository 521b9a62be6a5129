"""Two workers' snapshot services over one real SQLite file, during a score-profile switch.

Parts computed with different active profiles are never promoted: the completing run fails like
any other failed run (logged `trending_metrics_job.failed`, counted), and the snapshot appears once
every part agrees. The service exports the profiles it computes and each shadow's overlap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents.snapshot_service import SnapshotService
from config.settings import BackoffSettings, ConfigError, DatabaseSettings, Settings, load_settings
from observability.logs import FIELDS_ATTR
from observability.metrics import job_metrics, stream_metrics
from producer.synthetic import TrafficGenerator
from sinks.migrate import migrate
from streams.aggregation import boundary_for
from streams.scoring import scoring_windows
from streams.state_store import MemoryStore
from streams.stream_state import StreamState
from streams.windows import HOUR_MS, WindowSpec, retention_ms, window_set
from tests.agents.test_worker_integration import materialize, now_boundary, produce_events
from tests.fixtures.trending_env import TrendingEnv

pytestmark = pytest.mark.integration


def settings_with(tmp_path: Path, active: str, shadows: list[str]) -> Settings:
    config = tmp_path / f"{active}.toml"
    config.write_text(f'[metrics]\nscore_profile = "{active}"\nshadow_profiles = {shadows!r}\n'.replace("'", '"')
                      + "[metrics.score_profiles.boosty]\nboosts = 1.0\n")
    loaded = load_settings(config, environ={})
    return replace(
        loaded,
        database=DatabaseSettings(path=tmp_path / "kukuri.db", busy_timeout_ms=50),
        backoff=BackoffSettings(initial_retry_seconds=0.05, max_retry_seconds=0.1),
    )


async def service_for(
    settings: Settings, partitions: list[int], boundary: int, windows: tuple[WindowSpec, ...] = window_set()
) -> tuple[SnapshotService, CollectorRegistry]:
    state = StreamState(MemoryStore(), windows, retention_ms(windows), boundary)
    for p in partitions:
        state.attach(await state.load(p))
    actions = TrafficGenerator(12, seed=5).actions(boundary - 20 * HOUR_MS, boundary, 400)
    for i, event in enumerate(e for a in actions for e in a.events):
        if i % 4 in partitions:
            state.partitions[i % 4].apply(replace(event, topic_id=f"{event.topic_id}-{i % 4}"))
    registry = CollectorRegistry()
    caught_up = asyncio.Event()
    caught_up.set()
    service = SnapshotService(settings, state, caught_up, job_metrics(registry=registry), stream_metrics(registry),
                              f"worker-{partitions[0]}", on_fatal=pytest.fail)
    await service.on_start()
    return service, registry


def failed_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [getattr(r, FIELDS_ATTR) for r in caplog.records if getattr(r, "event", None) == "trending_metrics_job.failed"]


async def test_a_switch_half_rolled_out_is_not_promoted_and_fails_like_any_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    old = settings_with(tmp_path, "default", ["boosty"])
    new = settings_with(tmp_path, "boosty", ["default"])
    await migrate(old.database.path)
    boundary = boundary_for(int(time.time() * 1000), old.interval_ms)
    first, _ = await service_for(old, [0, 1], boundary)
    switched, switched_registry = await service_for(new, [2, 3], boundary)

    assert await first.run_boundary(boundary, deadline=time.time() + 1, scheduled=True) is None  # a part
    assert await switched.run_boundary(boundary, deadline=time.time() + 0.3, scheduled=True) is None
    (*retries, failed) = failed_lines(caplog)
    assert retries and failed["error_class"] == "transient" and "ProfileMismatch" in failed["error"]
    assert "different active score profiles" in failed["error"]
    assert switched_registry.get_sample_value("kukuri_trending_metrics_job_failures_total") == 1
    with sqlite3.connect(old.database.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM topic_metrics").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM trending_runs").fetchone() == (0,)

    # The first worker restarts with the new configuration: its part completes the snapshot.
    restarted, registry = await service_for(new, [0, 1], boundary)
    assert await restarted.run_boundary(boundary, deadline=time.time() + 1, scheduled=True) is None
    record = await switched.run_boundary(boundary, deadline=time.time() + 1, scheduled=True)
    assert record is not None and record.score_profile == "boosty"
    assert record.score_fingerprint == new.metrics.profiles.active.fingerprint
    with sqlite3.connect(old.database.path) as conn:
        assert conn.execute("SELECT DISTINCT profile FROM topic_profile_scores").fetchall() == [("default",)]
        ranks = [r for (r,) in conn.execute("SELECT rank FROM topic_profile_scores ORDER BY rank")]
    assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) > 10

    # The worker that completed the snapshot exports the shadow's overlap and the profiles it computes.
    overlap = switched_registry.get_sample_value("kukuri_trending_score_profile_top_overlap",
                                                 {"profile": "default", "top": "10"})
    assert overlap is not None and 0.0 <= overlap <= 1.0
    assert switched_registry.get_sample_value(
        "kukuri_trending_score_profile_kendall_tau", {"profile": "default"}) is not None
    assert registry.get_sample_value("kukuri_trending_score_profile_info", {
        "profile": "boosty", "fingerprint": new.metrics.profiles.active.fingerprint, "role": "active"}) == 1
    for service in (first, switched, restarted):
        await service.on_shutdown()


async def test_a_rising_profile_needs_its_baseline_window_in_the_worker_state(tmp_path: Path) -> None:
    config = tmp_path / "surging.toml"
    config.write_text('[metrics]\nscore_profile = "surging"\n[metrics.score_profiles.surging]\nformula = "rising"\n')
    settings = replace(load_settings(config, environ={}), database=DatabaseSettings(path=tmp_path / "kukuri.db"))
    await migrate(settings.database.path)
    boundary = boundary_for(int(time.time() * 1000), settings.interval_ms)
    with pytest.raises(ConfigError, match="'surging' reads the window 6h_baseline_24h"):
        await service_for(settings, [0, 1, 2, 3], boundary)

    windows = (*window_set(), *scoring_windows(settings.metrics.profiles.computed))
    service, _ = await service_for(settings, [0, 1, 2, 3], boundary, windows)
    record = await service.run_boundary(boundary, deadline=time.time() + 5, scheduled=True)
    assert record is not None and record.score_profile == "surging"
    with sqlite3.connect(settings.database.path) as conn:
        scores = conn.execute("SELECT score_24h, score_6h FROM topic_metrics").fetchall()
    assert scores and any(s24 > 0 or s6 > 0 for s24, s6 in scores)
    await service.on_shutdown()


def test_a_real_worker_stores_its_shadow_profiles(trending_env: TrendingEnv) -> None:
    env = trending_env
    # `rising` (built in) caps authors and leaves self-boosts out: the worker keeps per-author boosts.
    env.write_config('[metrics]\nshadow_profiles = ["boosty", "rising"]\n'
                     '[metrics.score_profiles.boosty]\nboosts = 2.0\n')
    assert env.cli("migrate").returncode == 0
    env.start_worker()
    env.wait_for_workers()
    E = now_boundary()
    events = [e for a in TrafficGenerator(8, seed=9).actions(E - 20 * HOUR_MS, E, 300) for e in a.events]
    produce_events(env, events)
    materialize(env, E)

    boosty = env.settings.metrics.profiles.defined["boosty"]
    (run,) = env.query("SELECT score_profile, score_fingerprint, score_shadows FROM trending_runs WHERE window_end = ?",
                       (E,))
    rising = env.settings.metrics.profiles.defined["rising"]
    assert run[:2] == ("default", env.settings.metrics.profiles.active.fingerprint)
    assert json.loads(run[2]) == {"boosty": boosty.fingerprint, "rising": rising.fingerprint}
    for profile in ("boosty", "rising"):
        (stored,) = env.query(
            "SELECT COUNT(*) FROM topic_profile_scores WHERE window_end = ? AND profile = ?", (E, profile))
        assert stored == (len(env.snapshot(E)),)
    compared = env.cli("profiles", "compare", "--json")
    assert compared.returncode == 0, compared.stderr
    shadows = {p["profile"]: p for p in json.loads(compared.stdout)["profiles"]}
    assert set(shadows) == {"boosty", "rising"} and shadows["boosty"]["overlap_top10"] is not None
