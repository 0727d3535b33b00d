"""The last lines an agent wrote, as the steer and retry modals show them."""

from __future__ import annotations

from collections.abc import Sequence

from textual.widgets import Static

EMPTY = "(no output yet)"


class RecentOutput(Static):
    """A muted box of plain text (never markup: it is the model's output)."""

    DEFAULT_CSS = """
    RecentOutput {
        height: auto; max-height: 14; margin: 1 0; padding: 0 1;
        color: $text-muted; background: $panel;
    }
    """

    def __init__(self, lines: Sequence[str] = (), *, id: str | None = None) -> None:
        super().__init__(self.text_of(lines), id=id, markup=False)

    @staticmethod
    def text_of(lines: Sequence[str]) -> str:
        return "\n".join(lines) or EMPTY

    def show(self, lines: Sequence[str]) -> None:
        self.update(self.text_of(lines))
