"""The soak benchmark at a toy size: it runs through the real state path and the real sink and
prints one well-formed row per simulated hour. Shape and sanity only, never timings."""

from __future__ import annotations

import pytest

from bench.soak_bench import TABLE_HEADER, HourSample, main, plateau_growth

HOURS = 6


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


@pytest.mark.integration
def test_small_soak_prints_one_positive_row_per_hour(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--topics", "200", "--hours", str(HOURS), "--events-per-hour", "2400", "--ttl-hours", "2"])
    out = capsys.readouterr().out.splitlines()
    assert TABLE_HEADER in out
    columns = _cells(TABLE_HEADER)
    rows = [_cells(line) for line in out if line.startswith("| ") and _cells(line)[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(1, HOURS + 1))
    for row in rows:
        assert len(row) == len(columns)
        values = dict(zip(columns, (float(c.replace(",", "")) for c in row), strict=True))
        assert values["events"] == 2400
        free = values.pop("heap free (MB)")  # may round to 0 right after a trim
        assert free >= 0 and all(v > 0 for v in values.values()), values
        assert values["heap in use (MB)"] <= values["RSS (MB)"] * 1.5
        assert values["active topics"] <= 200
    # A 2 h TTL keeps the boundaries E-2h..E: 25 snapshots of at most 200 topics.
    assert max(float(r[columns.index("topic_metrics rows")].replace(",", "")) for r in rows) <= 25 * 200
    end_keys = next(line for line in out if line.startswith("state keys at the end:"))
    assert int(end_keys.split()[5].replace(",", "")) > 0
    # Six hours cannot cover the 48 h state retention: the bench says so instead of a verdict.
    assert any(line.startswith("plateau check: needs at least") for line in out)


def _sample(hour: int, value: float) -> HourSample:
    return HourSample(hour=hour, events=1, events_per_s=value, rss_mb=value, state_disk_mb=value,
                      state_wal_mb=value,
                      state_keys=int(value), active_topics=1, snapshot_ms_mean=value, snapshot_ms_max=value,
                      metrics_rows=int(value), sqlite_mb=value, heap_in_use_mb=value, heap_free_mb=value,
                      rocksdb_mb=value, sqlite_memory_mb=value, python_objects_m=value)


def test_plateau_compares_the_two_halves_after_settling() -> None:
    # Growth before the settle hour is ignored; after it, 100 then 110 is +10 %.
    samples = [_sample(h, 10.0 * h) for h in range(1, 5)] + [_sample(h, 100.0) for h in (5, 6)] + \
              [_sample(h, 110.0) for h in (7, 8)]
    growth = plateau_growth(samples, settle_hour=5)
    assert growth is not None
    assert growth["rss_mb"] == pytest.approx(10.0)
    assert growth["metrics_rows"] == pytest.approx(10.0)


def test_plateau_needs_two_settled_hours() -> None:
    assert plateau_growth([_sample(h, 1.0) for h in range(1, 5)], settle_hour=4) is None
