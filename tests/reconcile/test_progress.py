"""The terminal progress bar: counts and ETA, throttled, and only for people at a terminal."""

from __future__ import annotations

import doctest
import io

import reconcile.progress
from reconcile.progress import ProgressBar, render


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_doctests() -> None:
    assert doctest.testmod(reconcile.progress).failed == 0


def test_render_before_anything_is_done_has_no_eta() -> None:
    assert render("x", 0, 10, 5.0).endswith("0/10  0%  ETA -:--")
    assert render("x", 10, 10, 75.0).endswith("10/10  100%  ETA 0:00")
    assert render("x", 0, 0, 0.0).endswith("0/0  100%  ETA 0:00")


def test_redraws_are_throttled_and_the_line_ends_when_done() -> None:
    now = [0.0]
    out = Tty()
    bar = ProgressBar("backfill", stream=out, clock=lambda: now[0])
    bar(1, 4)
    now[0] = 0.05
    bar(2, 4)  # within 0.1 s of the last draw: skipped
    now[0] = 0.3
    bar(3, 4)
    bar(4, 4)  # the last one is always drawn
    bar.close()  # already ended: adds nothing
    frames = out.getvalue().split("\r")[1:]
    assert [f.split("]  ")[1].split("  ")[0] for f in frames] == ["1/4", "3/4", "4/4"]
    assert out.getvalue().endswith("ETA 0:00\n") and out.getvalue().count("\n") == 1


def test_close_ends_an_unfinished_bar() -> None:
    out = Tty()
    bar = ProgressBar("x", stream=out, clock=lambda: 0.0)
    bar(1, 3)
    bar.close()
    assert out.getvalue().endswith("\n")


def test_shown_only_on_a_terminal_and_not_when_quiet() -> None:
    assert ProgressBar.wanted(Tty())
    assert not ProgressBar.wanted(Tty(), quiet=True)
    assert not ProgressBar.wanted(io.StringIO())
