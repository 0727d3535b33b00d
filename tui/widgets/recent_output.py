"""The last lines an agent wrote, as the steer and retry modals show them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

EMPTY = "(no output yet)"
MIN_LINES = 2  # a modal keeps at least this much of the output, however short the screen


class RecentOutput(Static):
    """A muted box of plain text (never markup: it is the model's output).

    On a short screen it shows only the last lines that fit (see `fit_modal`): the most
    recent output is what the operator needs, and the modal stays inside the screen.
    """

    DEFAULT_CSS = """
    RecentOutput {
        height: auto; max-height: 14; margin: 1 0; padding: 0 1;
        color: $legible-muted; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, lines: Sequence[str] = (), *, id: str | None = None) -> None:
        self.lines = list(lines)
        self.limit: int | None = None
        super().__init__(self.text_of(lines), id=id, markup=False)

    @staticmethod
    def text_of(lines: Sequence[str]) -> str:
        return "\n".join(lines) or EMPTY

    def show(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        self._draw()

    def set_limit(self, limit: int | None) -> None:
        if limit != self.limit:
            self.limit = limit
            self._draw()

    def _draw(self) -> None:
        lines = self.lines if self.limit is None else self.lines[-self.limit :]
        self.update(self.text_of(lines))


def fit_modal(screen: Screen[Any], box: Widget, recent: RecentOutput) -> None:
    """Give `recent` the rows the rest of `box` leaves free on `screen`, so the modal
    fits inside it (`box` may be clipped by its max-height: its children are summed)."""
    if not (box.is_mounted and recent.is_mounted):
        return
    chrome = box.outer_size.height - box.content_size.height  # border and padding
    others = sum(
        child.outer_size.height + child.styles.margin.top + child.styles.margin.bottom
        for child in box.children
        if child is not recent and child.display
    )
    margin = recent.styles.margin
    room = screen.size.height - chrome - others - margin.top - margin.bottom
    recent.set_limit(None if room >= len(recent.lines) else max(MIN_LINES, room))
