"""The ingest bench reports each field's median over rounds, and each round's own ratio."""

from __future__ import annotations

from bench.ingest_bench import Rate, Result, median_of


def _round(ceiling: float, worker: float, rss: int) -> Result:
    rate = Rate(worker, worker / 2)
    return Result(100, 1_000, Rate(2 * ceiling, 2 * ceiling), Rate(ceiling, ceiling), rate, 1_000 / worker, rss, 100,
                  rate, rss, rate, rss)


def test_medians_and_the_ratio_of_each_round_to_its_own_ceiling() -> None:
    result = median_of([_round(200.0, 100.0, 10), _round(100.0, 40.0, 30), _round(300.0, 90.0, 20)])
    assert result.decoded == Rate(200.0, 200.0)
    assert result.ingest == Rate(90.0, 45.0)
    assert result.rss_mb == 20
    assert [r.wall for r in result.ratios] == [0.5, 0.4, 0.3]
    assert result.ratio == Rate(0.4, 0.2)  # not 90 / 200: each round against its own ceiling
