"""A one-line progress bar with counts and ETA, for people at a terminal only.

Drawn on stderr and only when stderr is a TTY, so stdout stays clean for `--json` and for pipes,
and log files never fill with carriage returns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

ProgressCallback = Callable[[int, int], None]  # (done, total), called as work completes

_WIDTH = 30
_REDRAW_SECONDS = 0.1


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes}:{secs:02d}"


def render(label: str, done: int, total: int, elapsed: float) -> str:
    """`label [#########.....]  120/288  42%  ETA 0:03` (pure, so it can be tested).

    >>> render("backfill", 1, 4, 2.0)
    'backfill [#######.......................]  1/4  25%  ETA 0:06'
    """
    share = done / total if total else 1.0
    filled = int(share * _WIDTH)
    eta = 0.0 if done >= total else elapsed / done * (total - done) if done else None
    tail = f"ETA {_clock(eta)}" if eta is not None else "ETA -:--"
    return f"{label} [{'#' * filled}{'.' * (_WIDTH - filled)}]  {done}/{total}  {share:.0%}  {tail}"


class ProgressBar:
    """A `(done, total)` callback that redraws at most every 0.1 s and ends its line when done.

    `close()` ends the line of an unfinished bar (an error stopped the work), so whatever is
    printed next starts on a line of its own.
    """

    def __init__(
        self, label: str, *, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._label = label
        self._stream = sys.stderr if stream is None else stream
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._open = False  # a bar is drawn and its line not ended

    @staticmethod
    def wanted(stream: TextIO | None = None, *, quiet: bool = False) -> bool:
        """Whether to show one: not when asked to be quiet (`--json`), nor when nobody is watching."""
        return not quiet and (sys.stderr if stream is None else stream).isatty()

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if done < total and self._drawn_at is not None and now - self._drawn_at < _REDRAW_SECONDS:
            return
        self._drawn_at = now
        self._open = done < total
        end = "" if self._open else "\n"
        self._stream.write("\r" + render(self._label, done, total, now - self._started) + end)
        self._stream.flush()

    def close(self) -> None:
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False
