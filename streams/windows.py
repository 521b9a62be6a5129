"""Pane and window math. Pure functions of epoch milliseconds.

A pane is a 5-minute tumbling window aligned to the epoch. Every trailing window is a whole
number of panes, so window state can be kept as running sums over panes: a pane enters a window
once and leaves it once, whatever the window's length.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

MINUTE_MS: Final = 60_000
HOUR_MS: Final = 60 * MINUTE_MS
PANE_MS: Final = 5 * MINUTE_MS


def align_down(t: int, step: int) -> int:
    """The largest multiple of `step` that is <= t.

    >>> align_down(299_999, PANE_MS), align_down(300_000, PANE_MS)
    (0, 300000)
    """
    return t - t % step


def pane_start(t: int) -> int:
    return t - t % PANE_MS


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """A trailing window that ends `lag_ms` before the boundary: `[E - lag - length, E - lag)`."""

    name: str
    length_ms: int
    lag_ms: int = 0

    def __post_init__(self) -> None:
        if self.length_ms <= 0 or self.length_ms % PANE_MS or self.lag_ms % PANE_MS or self.lag_ms < 0:
            raise ValueError(f"window {self.name}: length and lag must be positive multiples of 5 minutes")

    def bounds(self, boundary: int) -> tuple[int, int]:
        end = boundary - self.lag_ms
        return end - self.length_ms, end

    def contains(self, boundary: int, t: int) -> bool:
        """Half-open membership: an event at exactly E-24h is in W24, one at E is not.

        >>> W24.contains(86_400_000, 0), W24.contains(86_400_000, 86_400_000)
        (True, False)
        """
        start, end = self.bounds(boundary)
        return start <= t < end

    @property
    def span_ms(self) -> int:
        """How far back from the boundary this window reaches."""
        return self.lag_ms + self.length_ms

    def panes(self, boundary: int) -> Iterator[int]:
        start, end = self.bounds(boundary)
        return iter(range(start, end, PANE_MS))


W24: Final = WindowSpec("24h", 24 * HOUR_MS)
W6: Final = WindowSpec("6h", 6 * HOUR_MS)
WPREV: Final = WindowSpec("prev24h", 24 * HOUR_MS, lag_ms=24 * HOUR_MS)


def window_set(extra_windows: Mapping[str, int] | None = None) -> tuple[WindowSpec, ...]:
    """The windows every snapshot needs (24h, 6h, the previous 24h) plus configured extras."""
    extras = tuple(WindowSpec(name, minutes * MINUTE_MS) for name, minutes in (extra_windows or {}).items())
    return (W24, W6, WPREV, *extras)


def retention_ms(windows: tuple[WindowSpec, ...], grace_ms: int = 0) -> int:
    """How long a fact can still matter to some window of the current or a recent boundary."""
    return max(w.span_ms for w in windows) + grace_ms
