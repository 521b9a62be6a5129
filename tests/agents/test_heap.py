"""Free heap pages go back to the system when trimmed (glibc; elsewhere both calls do nothing)."""

from __future__ import annotations

import pytest

from agents.heap import heap_usage, trim_heap
from bench.soak_bench import rss_mb


def test_trimming_returns_the_free_pages_of_a_fragmented_heap() -> None:
    if heap_usage() is None:
        pytest.skip("not glibc: nothing to trim")
    blocks = [bytes(4096) for _ in range(20_000)]  # 80 MB from malloc itself (too big for pymalloc)
    kept = blocks[::8]  # every eighth block stays: the free space between them cannot shrink the heap's top
    del blocks
    fragmented, usage = rss_mb(), heap_usage()
    assert usage is not None and usage.free > 50 * 1024 * 1024  # free, yet resident
    assert trim_heap()
    assert rss_mb() < fragmented - 40  # the free pages in between went back to the system
    assert len(kept) == 2_500
