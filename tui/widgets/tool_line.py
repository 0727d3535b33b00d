"""A CEO tool call as one compact line; a click expands its input and result."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.view_model import ChatItem


class ToolLine(Static):
    DEFAULT_CSS = """
    ToolLine { padding: 0 1; color: $text-muted; }
    ToolLine:hover { background: $boost; }
    ToolLine.-error { color: $error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.expanded = False
        self._item: ChatItem | None = None

    def show(self, item: ChatItem) -> None:
        self._item = item
        self.set_class(item.is_error, "-error")
        icon = ("✗ " if item.is_error else "✓ ") if item.done else "… "
        arrow = "▾ " if self.expanded else "▸ "
        line = Content.assemble((arrow, "$text-muted"), (icon, "bold"), (item.text, "$text"))
        if self.expanded and item.detail:
            line = Content.assemble(line, "\n", (item.detail, "$text-muted"))
        self.update(line)

    def action_expand(self) -> None:
        self.expanded = not self.expanded
        if self._item is not None:
            self.show(self._item)

    def on_click(self) -> None:
        self.action_expand()
