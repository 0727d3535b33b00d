"""The CEO conversation: operator lines, streamed CEO replies, tool lines, notices, input."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Markdown, Static

from tui.view_model import ChatItem, RunView
from tui.widgets.tool_line import ToolLine

EMPTY_TEXT = (
    "Type a task below and press enter. The CEO plans it, hands parts to sub-agents "
    "(they show on the board) and checks their work before it answers. f1 lists the keys."
)


class OperatorLine(Static):
    DEFAULT_CSS = """
    OperatorLine { margin: 1 0 0 0; padding: 0 1; background: $boost; }
    """

    def show(self, item: ChatItem) -> None:
        if item.queued and not item.done:
            tag: tuple[str, str] = (" queued ", "reverse $legible-warning")
        elif item.queued:
            tag = (" delivered ", "$legible-success")
        else:
            tag = ("", "")
        self.update(Content.assemble(("you ", "bold $legible-accent"), tag, " ", item.text))


class NoticeLine(Static):
    DEFAULT_CSS = """
    NoticeLine { padding: 0 1; color: $legible-muted; }
    NoticeLine.-warning { color: $legible-warning; }
    NoticeLine.-error { color: $legible-error; }
    """

    def show(self, item: ChatItem) -> None:
        self.set_class(item.level == "warning", "-warning")
        self.set_class(item.level == "error", "-error")
        body = Content.assemble(("● ", "bold"), (item.text, "bold"))
        if item.detail:
            body = Content.assemble(body, ": ", item.detail)
        self.update(body)


class CeoReply(Markdown):
    """One CEO reply, appended to as it streams.

    The chat's flush timer calls `show` at most 8 times a second and never twice at
    once, so each new piece is appended directly. (A `MarkdownStream` was used before;
    stopping it right after the last write could leave its last append running beside
    the next one and garble the text.)
    """

    DEFAULT_CSS = """
    CeoReply { margin: 1 0 0 0; padding: 0 1; }
    """

    def __init__(self, item_id: int) -> None:
        super().__init__("", id=f"chat-{item_id}")
        self.written = 0

    async def show(self, item: ChatItem) -> None:
        new = item.text[self.written :]
        if new:
            self.written = len(item.text)
            await self.append(new)


class CeoChat(Vertical):
    """The left column. `sync` mounts or updates the items the view marks dirty."""

    DEFAULT_CSS = """
    CeoChat { width: 2fr; min-width: 40; border-right: vkey $panel-lighten-2; }
    CeoChat > #chat-log { height: 1fr; padding: 0 1 1 0; }
    CeoChat > #chat-input-row { height: 3; dock: bottom; }
    CeoChat #chat-input { width: 1fr; }
    CeoChat #chat-state { width: auto; min-width: 10; padding: 1 1 0 1; color: $legible-muted; }
    CeoChat #chat-state.-queued { color: $legible-warning; }
    CeoChat #chat-empty { padding: 1 1 0 1; color: $legible-muted; }
    """

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id)
        self.read_only = read_only
        self.items: dict[int, Widget] = {}
        self.state_text = ""
        self.default_placeholder = "replay: read-only" if read_only else "Message the CEO…"
        # Held, not queried: the log can hold hundreds of widgets to walk past.
        self.log_view = VerticalScroll(id="chat-log")
        self.input = Input(
            placeholder=self.default_placeholder, id="chat-input", disabled=self.read_only
        )
        self.state = Static("", id="chat-state")
        # Until the conversation has a line: what to do here (a new run without a task).
        self.empty = Static(EMPTY_TEXT, id="chat-empty", markup=False)
        self.empty.display = not read_only

    def compose(self) -> ComposeResult:
        with self.log_view:
            yield self.empty
        with Horizontal(id="chat-input-row"):
            yield self.input
            yield self.state

    def on_mount(self) -> None:
        self.log_view.anchor()

    def set_state(self, text: str, queued: bool = False, placeholder: str | None = None) -> None:
        """The hint beside the input, and the input's placeholder (default when None)."""
        state = self.state
        if text != self.state_text:  # width: auto, so a new text needs a layout pass
            self.state_text = text
            state.update(text)
        state.set_class(queued, "-queued")
        box = self.input
        wanted = placeholder or self.default_placeholder
        if box.placeholder != wanted:
            box.placeholder = wanted

    async def sync(self, view: RunView, dirty: set[int]) -> None:
        if not dirty:
            return
        log = self.log_view
        by_id = {item.item_id: item for item in view.chat}
        new: list[Widget] = []
        for item_id in sorted(dirty):
            item = by_id.get(item_id)
            if item is None:
                continue
            widget = self.items.get(item_id)
            if widget is None:
                widget = _make(item)
                self.items[item_id] = widget
                new.append(widget)
            elif isinstance(widget, CeoReply):
                await widget.show(item)
            else:
                _show(widget, item)
        if new:
            await log.mount_all(new)
            for widget in new:
                item = by_id[int(str(widget.id).removeprefix("chat-"))]
                if isinstance(widget, CeoReply):
                    await widget.show(item)
                else:
                    _show(widget, item)
        stale = [i for i in self.items if i not in by_id]
        for item_id in stale:
            await self.items.pop(item_id).remove()
        self.empty.display = not self.items and not self.read_only


def _make(item: ChatItem) -> Widget:
    wid = f"chat-{item.item_id}"
    if item.kind == "operator":
        return OperatorLine(id=wid, markup=False)
    if item.kind == "ceo":
        return CeoReply(item.item_id)
    if item.kind == "tool":
        return ToolLine(id=wid)
    w = NoticeLine(id=wid, markup=False)
    return w


def _show(widget: Widget, item: ChatItem) -> None:
    if isinstance(widget, OperatorLine | NoticeLine | ToolLine):
        widget.show(item)
