"""Keep Textual's rendered lines out of reference cycles.

`Strip.divide` in Textual 8.2.8 (pinned exactly in pyproject.toml) caches its result on
the strip itself, and when the cut is the whole line that result is `[self]`: the strip
then refers to itself. Every line the compositor draws goes through it, so every strip
it leaves behind (with its seven caches and its segments) is cyclic garbage that only
the garbage collector can free. With 100 streaming panes that was about 9,000 strips,
180,000 objects, reaching the oldest generation every 20 s: memory grew about
10 MB/min and full collections paused the app for 0.4-0.7 s (measured with
bench/ui_load.py; see README, Performance).

The patch keeps the same results and leaves the trivial whole-line case uncached (it
costs one list), so strips are freed by reference counting the moment they are dropped.
`tests/test_strip_cycles.py` checks both, and fails if a Textual upgrade changes
`Strip.divide` so that the patch no longer applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.strip import Strip

_original_divide = Strip.divide


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    if [cut for cut in cuts if cut <= self.cell_length] == [self.cell_length]:
        return [self]  # what the original returns, without caching self in self
    return _original_divide(self, cuts)


def install() -> None:
    """Patch `Strip.divide` once (idempotent)."""
    if Strip.divide is not _divide:
        Strip.divide = _divide  # type: ignore[method-assign]
