"""The Strip.divide patch: same results, and rendered lines are no longer cyclic garbage."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui import strip_cycles

Divide = Callable[[Strip, list[int]], Sequence[Strip]]


def _strip() -> Strip:
    return Strip([Segment("hello ", Style(bold=True)), Segment("world", Style(italic=True))])


@contextmanager
def _no_automatic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _garbage_after(divide: Divide, n: int = 500) -> int:
    """Objects only the cycle collector could free, after dividing `n` strips whole."""
    with _no_automatic_gc():
        strips = [_strip() for _ in range(n)]
        for strip in strips:
            divide(strip, [strip.cell_length])
        del strips, strip
        return gc.collect()


def test_results_are_unchanged() -> None:
    strip_cycles.install()
    for cuts in ([11], [3, 11], [6, 11], [0, 11], [2, 5, 11], [20], [6], []):
        ours = Strip.divide(_strip(), cuts)
        theirs = strip_cycles._original_divide(_strip(), cuts)
        assert [s.text for s in ours] == [s.text for s in theirs], cuts
        assert [list(s) for s in ours] == [list(s) for s in theirs], cuts


def test_whole_line_divide_leaves_no_cycle() -> None:
    strip_cycles.install()
    assert _garbage_after(Strip.divide) == 0


def test_textual_still_needs_the_patch() -> None:
    # If this fails, Textual no longer caches `[self]` on the strip: drop tui/strip_cycles.py.
    assert _garbage_after(strip_cycles._original_divide) >= 500


def test_install_is_idempotent() -> None:
    strip_cycles.install()
    patched = Strip.divide
    strip_cycles.install()
    assert Strip.divide is patched
