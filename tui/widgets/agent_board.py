"""The board: a window of pane slots over the sub-agents.

Only as many panes exist as fit on screen; moving past the edge (keys, page keys or the
wheel) rebinds the slots to other agents instead of scrolling a grid of one widget per
agent. A scroll in Textual lays out and redraws the whole screen (about 40 ms with 100
panes under load), while rebinding repaints only the board, and the widget count, the
layout cost and the memory stay the same at 10 agents or 1000.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from tui.view_model import AgentView, RunView
from tui.widgets.agent_pane import PANE_HEIGHT, AgentPane

PANE_MIN_WIDTH = 38  # two pane columns on an 80-column screen
# Below two full-height rows, two rows of panes down to this height beat one: an 80×24
# screen shows four panes, not one.
PANE_MIN_HEIGHT = 9
# Panes re-rendered per flush at most, for output that changed: a board of streaming
# agents is spread over a few flushes, so no single frame has to draw every pane.
PANES_PER_FLUSH = 2
EMPTY_TEXT = "No sub-agents yet. The CEO spawns them as it plans."


def pane_rows(room: int, columns: int = 1, agents: int = 0) -> tuple[int, int]:
    """Rows of panes for `room` lines, and the panes' height: full height when two rows
    fit (or one holds every agent), else two shorter rows when they can, else one row as
    tall as fits."""
    full = room // PANE_HEIGHT
    if full >= 2 or (full == 1 and agents <= columns):
        return full, PANE_HEIGHT
    if room >= 2 * PANE_MIN_HEIGHT:
        return 2, min(PANE_HEIGHT, room // 2)
    return 1, max(3, min(PANE_HEIGHT, room))


class AgentBoard(Widget, can_focus=True):
    """Fixed-height pane slots in a grid; `top` is the index of the first agent shown."""

    DEFAULT_CSS = """
    AgentBoard { height: 1fr; padding: 0 1; }
    AgentBoard > #board-grid {
        layout: grid;
        grid-size: 2;
        grid-gutter: 0 1;
        grid-rows: PANE_HEIGHT;
        height: 1fr;
    }
    AgentBoard > #board-status {
        height: 1; color: $legible-muted; text-wrap: nowrap; text-overflow: ellipsis;
    }
    """.replace("PANE_HEIGHT", str(PANE_HEIGHT))

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "page(-1)", "Page up", show=False, id="board.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="board.page_down"),
    ]

    class Selected(Message):
        """The agent under the focused slot changed without a focus event (a rebind)."""

        def __init__(self, agent_id: str | None) -> None:
            super().__init__()
            self.agent_id = agent_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.slots: list[AgentPane] = []
        self.order: list[str] = []
        self.top = 0
        self.selected: str | None = None
        self._columns = 2
        self._rows = 1
        self._pane_height = PANE_HEIGHT
        self._view: RunView | None = None
        self._now = 0.0
        # Agents whose output changed, oldest first (a dict keeps insertion order).
        self._pending: dict[str, None] = {}
        self._hidden = False  # a sync found the board out of view (see `sync`)
        self._status = ""
        self.grid = Container(id="board-grid")
        self.grid.display = False  # until the first agent (see `_show_status`)
        self.status = Static(EMPTY_TEXT, id="board-status", markup=False)

    def compose(self) -> ComposeResult:
        yield self.grid
        yield self.status

    # --- geometry ------------------------------------------------------------

    @property
    def columns(self) -> int:
        return self._columns

    @property
    def capacity(self) -> int:
        return self._columns * self._rows

    @property
    def panes(self) -> dict[str, AgentPane]:
        """The slots that show an agent, by agent id, in board order."""
        return {s.agent_id: s for s in self.slots if s.agent_id is not None}

    def on_resize(self) -> None:
        self._fit()

    def _geometry(self) -> tuple[int, int, int]:
        """Columns, rows and pane height for the board's size and number of agents."""
        width = self.content_region.width or self.size.width
        columns = max(1, width // PANE_MIN_WIDTH)
        # One line below the grid is the status line.
        rows, height = pane_rows(self.content_region.height - 1, columns, len(self.order))
        return columns, rows, height

    def _fit(self) -> None:
        grid = self.grid
        columns, rows, height = self._geometry()
        if columns != self._columns:
            self._columns = columns
            grid.styles.grid_size_columns = columns
        if height != self._pane_height:
            self._pane_height = height
            grid.styles.grid_rows = str(height)
            for slot in self.slots:
                slot.styles.height = height
        self._rows = rows
        wanted = columns * rows
        if len(self.slots) < wanted:
            new = [AgentPane() for _ in range(wanted - len(self.slots))]
            for slot in new:
                slot.styles.height = height
                slot.on_move = self.move_focus
            self.slots.extend(new)
            grid.mount_all(new)
        elif len(self.slots) > wanted:
            for slot in self.slots[wanted:]:
                slot.remove()
            del self.slots[wanted:]
        self._rewindow()

    def _rewindow(self) -> None:
        """After a resize or a new order: keep the selected agent in view and focused."""
        self._reveal(self.selected)
        self._bind_all(follow_focus=False)
        if isinstance(self.screen.focused, AgentPane):
            self._focus_selected()

    # --- sync from the view ------------------------------------------------

    def sync(self, view: RunView, now: float, dirty: set[str], tick: bool) -> None:
        """Follow the board order, rebind slots, re-render what changed and shows."""
        self._view, self._now = view, now
        order = [a.agent_id for a in view.board()]
        if order != self.order:
            previous = self.order.index(self.selected) if self.selected in self.order else 0
            self.order = order
            if self.selected not in order:
                # Cleared (or nothing chosen yet): the agent now at the same place.
                self.selected = order[min(previous, len(order) - 1)] if order else None
            if self.size.height and self._geometry() != (
                self._columns,
                self._rows,
                self._pane_height,
            ):
                self._fit()  # a third agent on a short screen: two shorter rows
            else:
                self._rewindow()
        self._show_status(view)
        shown = self.panes
        for agent_id in dirty:
            if agent_id in shown:
                self._pending.setdefault(agent_id, None)
        if tick:
            for agent_id in shown:
                agent = view.agents.get(agent_id)
                if agent is not None and agent.active:
                    self._pending.setdefault(agent_id, None)
        if not self.display or self._covered():
            # Out of view (the chat tab, or a screen on top): no pane work now; what
            # changed waits in `_pending` and is drawn, all of it, once shown again.
            self._hidden = True
            return
        focused = self.screen.focused
        if focused is self and self.selected in shown:
            shown[self.selected].focus(scroll_visible=False)
        order_now = list(self._pending)
        if isinstance(focused, AgentPane) and focused.agent_id in self._pending:
            order_now.remove(focused.agent_id)
            order_now.insert(0, focused.agent_id)  # the pane the operator looks at goes first
        budget = len(self.slots) if self._hidden else PANES_PER_FLUSH
        self._hidden = False
        for agent_id in order_now:
            pane = shown.get(agent_id)
            agent = view.agents.get(agent_id)
            if pane is None or agent is None:
                self._pending.pop(agent_id, None)  # scrolled away: drawn when bound again
                continue
            if budget <= 0:
                break  # the rest wait for the next flush, oldest first
            pane.show(agent, now)
            self._pending.pop(agent_id, None)
            budget -= 1

    def _covered(self) -> bool:
        """A screen with an opaque background is above the board's (a see-through modal,
        such as help, still shows the board dimmed beneath it)."""
        stack = self.app.screen_stack
        mine = self.screen
        if mine not in stack:
            return True
        above = stack[stack.index(mine) + 1 :]
        return any(screen.styles.background.a >= 1 for screen in above)

    def _clamp_top(self) -> None:
        columns = self._columns
        last_top = max(0, (len(self.order) - 1) // columns - self._rows + 1) * columns
        self.top = max(0, min(self.top - self.top % columns, last_top))

    def _reveal(self, agent_id: str | None) -> None:
        """Move the window (by whole rows, as little as needed) so `agent_id` shows."""
        if agent_id not in self.order:
            self._clamp_top()
            return
        row = self.order.index(agent_id) // self._columns
        top_row = self.top // self._columns
        if row < top_row:
            top_row = row
        elif row >= top_row + self._rows:
            top_row = row - self._rows + 1
        self.top = top_row * self._columns
        self._clamp_top()

    def _bind_all(self, follow_focus: bool = True) -> None:
        """Give every slot the agent at its place in the window; draw the ones that changed.

        With `follow_focus`, the selection becomes the agent now under the focused slot
        (the wheel moved the window); a key move instead focuses the slot of its target.
        """
        view = self._view
        focused = self.screen.focused if self.is_mounted else None
        for i, slot in enumerate(self.slots):
            index = self.top + i
            agent = self._agent(self.order[index]) if index < len(self.order) else None
            if agent is None:
                slot.unbind()
            elif slot.agent_id != agent.agent_id or not slot.drawn:
                slot.bind(agent, self._now)
                self._pending.pop(agent.agent_id, None)
        if follow_focus and isinstance(focused, AgentPane) and focused in self.slots:
            if focused.agent_id is None:
                self._focus_selected()
            elif focused.agent_id != self.selected:
                self.selected = focused.agent_id
                self.post_message(self.Selected(self.selected))
        self._show_status(view)

    def _agent(self, agent_id: str) -> AgentView | None:
        return self._view.agents.get(agent_id) if self._view is not None else None

    def _show_status(self, view: RunView | None) -> None:
        n = len(self.order)
        if self.grid.display != (n > 0):
            self.grid.display = n > 0  # empty: the line below says why, at the top
        if view is None or n == 0:
            text = EMPTY_TEXT
        elif n > len(self.slots):
            last = min(n, self.top + len(self.slots))
            beyond = [a for a in self.order[: self.top] + self.order[last:] if self._is_active(a)]
            text = f"agents {self.top + 1}–{last} of {n}"
            if beyond:
                text += f" · {len(beyond)} running out of view"
            more = " · ↑↓ pgup pgdn or the wheel to see the rest"
            if len(text + more) > (self.status.size.width or 200):
                more = " · ↑↓ pgup pgdn for the rest"  # a narrow board: the short hint
            text += more
        else:
            text = ""
        if text != self._status:
            self._status = text
            self.status.update(text, layout=False)

    def _is_active(self, agent_id: str) -> bool:
        agent = self._agent(agent_id)
        return agent is not None and agent.active

    def _focus_selected(self) -> None:
        pane = self.panes.get(self.selected or "")
        if pane is None:
            return
        if pane.is_mounted:
            # At once rather than after the current message, as `Widget.focus` does: one
            # turn of the event loop less between a key and its frame.
            self.screen.set_focus(pane, scroll_visible=False)
        else:
            pane.focus(scroll_visible=False)  # a slot mounting now: once it is there

    # --- moving --------------------------------------------------------------

    def move_focus(self, pane: AgentPane, direction: str) -> None:
        if pane.agent_id not in self.order:
            return
        i = self.order.index(pane.agent_id)
        step = {"up": -self._columns, "down": self._columns, "left": -1, "right": 1}[direction]
        if 0 <= i + step < len(self.order):
            self.focus_agent(self.order[i + step])

    def action_page(self, pages: int) -> None:
        if not self.order:
            return
        i = self.order.index(self.selected) if self.selected in self.order else 0
        i = max(0, min(len(self.order) - 1, i + pages * self.capacity))
        self.focus_agent(self.order[i])

    def focus_agent(self, agent_id: str) -> bool:
        """Select `agent_id`, bring it into the window and focus its pane."""
        if agent_id not in self.order:
            return False
        self.selected = agent_id
        top = self.top
        self._reveal(agent_id)
        if self.top != top:
            self._bind_all(follow_focus=False)
        self._focus_selected()
        self.post_message(self.Selected(agent_id))
        return agent_id in self.panes

    def scroll_rows(self, rows: int) -> None:
        """Move the window by whole rows; focus stays on its slot, which shows another agent."""
        top = self.top
        self.top += rows * self._columns
        self._clamp_top()
        if self.top != top:
            self._bind_all()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.scroll_rows(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.scroll_rows(-1)

    def on_focus(self) -> None:
        self._focus_selected()
