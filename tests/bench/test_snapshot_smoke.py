"""The snapshot benchmark runs end to end at a tiny size with every shadow-profile set (no timings asserted)."""

from __future__ import annotations

import asyncio

import pytest

from bench.snapshot_bench import SHADOW_SETS, measure


@pytest.mark.parametrize("shadows", sorted(SHADOW_SETS))
def test_every_shadow_set_builds_and_writes_a_snapshot(shadows: str) -> None:
    result = asyncio.run(measure(50, SHADOW_SETS[shadows]))
    assert set(result) == {"rows_ms", "write_ms", "total_ms"} and all(v >= 0 for v in result.values())
