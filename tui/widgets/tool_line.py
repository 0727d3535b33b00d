"""A CEO tool call as one compact line; a click opens its input and result (capped), a
second click shows the result whole (when it was capped), the next one closes it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from tui.tool_render import more_line, result_lines, tool_input
from tui.view_model import ChatItem

CLOSED, OPEN, WHOLE = 0, 1, 2


class ToolLine(Static):
    DEFAULT_CSS = """
    ToolLine { padding: 0 1; color: $legible-muted; }
    ToolLine:hover { background: $boost; }
    ToolLine.-error { color: $legible-error; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.level = CLOSED
        self.capped = False  # the open view left lines out: a click shows them
        self._item: ChatItem | None = None

    @property
    def expanded(self) -> bool:
        return self.level != CLOSED

    def show(self, item: ChatItem) -> None:
        self._item = item
        self.set_class(item.is_error, "-error")
        icon = ("✗ " if item.is_error else "✓ ") if item.done else "… "
        if self.level == CLOSED:
            line = Content.assemble(("▸ ", "$legible-muted"), (icon, "bold"), (item.text, "$text"))
            self.update(line)
            return
        self.update(Group(*self._opened(item, icon)))

    def _opened(self, item: ChatItem, icon: str) -> list[RenderableType]:
        whole = self.level == WHOLE
        out: list[RenderableType] = [Text.assemble("▾ ", (icon, "bold"), (item.text, "bold"))]
        parts, hidden = tool_input(
            item.tool_name, item.tool_input, dark=self.app.current_theme.dark, expanded=whole
        )
        out += [Padding(part, (0, 0, 0, 2)) for part in parts]
        if item.done:
            lines, left = result_lines(item.output, expanded=whole)
            label = "✗ error" if item.is_error else "← result"
            out.append(Padding(Text(f"{label}:", style="bold"), (0, 0, 0, 2)))
            out.append(Padding(Text("\n".join(lines)), (0, 0, 0, 4)))
            hidden += left
        self.capped = bool(hidden)
        if hidden:
            out.append(Padding(more_line(hidden, "click to show them"), (0, 0, 0, 2)))
        return out

    def action_expand(self) -> None:
        """Closed -> open (capped) -> whole (if anything was capped) -> closed."""
        if self.level == OPEN and self.capped:
            self.level = WHOLE
        else:
            self.level = OPEN if self.level == CLOSED else CLOSED
        if self._item is not None:
            self.show(self._item)

    def on_click(self) -> None:
        self.action_expand()
