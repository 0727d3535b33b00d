"""Past runs from the store, newest first; enter opens one as a replay."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.view_model import ESTIMATE_MARK, fmt_cost, one_line
from tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from core.records import RunRecords


NARROW = 100  # columns below which the history leaves out the start time


class HistoryScreen(Screen[str | None]):
    """Dismisses with the chosen run id (or None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="history.back"),
        Binding("enter", "open", "Replay", id="history.open"),
    ]
    DEFAULT_CSS = """
    HistoryScreen #history-head { height: 1; background: $panel; padding: 0 1; }
    HistoryScreen DataTable { height: 1fr; }
    """

    def __init__(self, store: RunRecords | None, rows: list[Any] | None = None) -> None:
        super().__init__()
        self.store = store
        self.rows = rows
        self._width = 0

    def compose(self) -> ComposeResult:
        yield Static("History: enter replays a run · escape back", id="history-head")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield SteadyFooter()

    async def on_mount(self) -> None:
        rows = self.rows
        if rows is None:
            rows = await self.store.list_runs(limit=200) if self.store is not None else []
            self.rows = rows
        self._fill(self.size.width or self.app.size.width)
        if not rows:
            self.query_one("#history-head", Static).update("History: no runs recorded yet")
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        if self.rows is not None and self.size.width != self._width:
            self._fill(self.size.width)

    def _fill(self, width: int) -> None:
        """The columns that fit `width`: below NARROW the start time goes (the run id
        begins with it) and the task gets what is left, cut with an ellipsis."""
        self._width = width
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        narrow = width < NARROW
        columns = ["run", "status", "agents", "cost", "task"]
        if not narrow:
            columns.insert(0, "started")
        table.add_columns(*columns)
        rows = self.rows or []
        cells = [
            [
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                r.run_id,
                r.status,
                str(max(0, r.agents - 1)),
                (ESTIMATE_MARK if r.estimated else "") + fmt_cost(r.cost_usd),
            ][1 if narrow else 0 :]
            for r in rows
        ]
        used = sum(
            max([len(name), *(len(row[i]) for row in cells)]) + 2
            for i, name in enumerate(columns[:-1])
        )
        room = max(12, min(70, width - used - 4))  # the task cell's padding, a scrollbar
        for r, row in zip(rows, cells, strict=True):
            table.add_row(*row, one_line(r.task or "(no task)", room), key=r.run_id)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        self.dismiss(str(key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.dismiss(str(event.row_key.value))
