"""The grid of agent panes. Panes are created once per agent and refreshed by `sync`."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.geometry import Offset
from textual.widgets import Static

from tui.view_model import RunView
from tui.widgets.agent_pane import AgentPane

PANE_MIN_WIDTH = 46
# Panes re-rendered per flush at most: a full board of streaming agents is spread over a
# few flushes, so no single frame has to draw every pane (which stalled keys at 100 agents).
PANES_PER_FLUSH = 4


class AgentBoard(VerticalScroll):
    """Fixed-height panes in a grid; only visible, changed panes are re-rendered."""

    DEFAULT_CSS = """
    AgentBoard {
        layout: grid;
        grid-size: 2;
        grid-gutter: 0 1;
        grid-rows: 13;
        height: 1fr;
        padding: 0 1;
    }
    AgentBoard > #board-empty { column-span: 2; height: 3; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.panes: dict[str, AgentPane] = {}
        # Panes to re-render, oldest first (a dict keeps insertion order).
        self._pending: dict[str, None] = {}
        self._columns = 2
        self._last_offset: Offset | None = None

    def compose_empty(self) -> Static:
        return Static("No sub-agents yet. The CEO spawns them as it plans.", id="board-empty")

    def on_mount(self) -> None:
        self.mount(self.compose_empty())

    def on_resize(self) -> None:
        columns = max(1, self.size.width // PANE_MIN_WIDTH)
        if columns != self._columns:
            self._columns = columns
            self.styles.grid_size_columns = columns
            self._mark(self.panes)

    def _mark(self, agent_ids: Iterable[str]) -> None:
        for agent_id in agent_ids:
            self._pending.setdefault(agent_id, None)

    @property
    def columns(self) -> int:
        return self._columns

    def sync(self, view: RunView, now: float, dirty: set[str], tick: bool) -> None:
        """Mount panes for new agents, drop cleared ones, re-render what changed and shows."""
        board = view.board()
        wanted = {a.agent_id for a in board}
        for agent_id in [a for a in self.panes if a not in wanted]:
            self.panes.pop(agent_id).remove()
            self._pending.pop(agent_id, None)
        new = [AgentPane(a.agent_id) for a in board if a.agent_id not in self.panes]
        if new:
            for pane in new:
                self.panes[pane.agent_id] = pane
                self._mark([pane.agent_id])
            empty = self.query("#board-empty")
            empty.remove()
            self.mount_all(new)
        if not self.panes and not self.query("#board-empty"):
            self.mount(self.compose_empty())
        self._mark(a for a in dirty if a in wanted)
        if self.scroll_offset != self._last_offset:
            self._last_offset = self.scroll_offset
            self._mark(self.panes)
        if tick:
            self._mark(a.agent_id for a in board if a.active)
        if not self._pending:
            return
        visible = self.region
        order = list(self._pending)
        focused = self.screen.focused
        if isinstance(focused, AgentPane) and focused.agent_id in self._pending:
            order.remove(focused.agent_id)
            order.insert(0, focused.agent_id)  # the pane the operator looks at goes first
        budget = PANES_PER_FLUSH if not new else len(order)
        for agent_id in order:
            found = self.panes.get(agent_id)
            agent = view.agents.get(agent_id)
            if found is None or agent is None:
                self._pending.pop(agent_id, None)
                continue
            if found.is_mounted and not found.region.overlaps(visible) and found.size.width:
                continue  # off screen: stays pending until scrolled into view
            if budget <= 0:
                break  # the rest wait for the next flush, oldest first
            found.show(agent, now)
            self._pending.pop(agent_id, None)
            budget -= 1

    def move_focus(self, pane: AgentPane, direction: str) -> None:
        order = list(self.panes.values())
        if pane not in order:
            return
        i = order.index(pane)
        step = {"up": -self._columns, "down": self._columns, "left": -1, "right": 1}[direction]
        j = i + step
        if 0 <= j < len(order):
            order[j].focus()
            order[j].scroll_visible()

    def focus_agent(self, agent_id: str) -> bool:
        pane = self.panes.get(agent_id)
        if pane is None:
            return False
        pane.focus()
        return True
