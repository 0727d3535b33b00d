"""Past runs from the store, newest first; enter opens one as a replay."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.view_model import fmt_cost, one_line
from tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from core.store import Store


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

    def __init__(self, store: Store | None, rows: list[Any] | None = None) -> None:
        super().__init__()
        self.store = store
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield Static("History: enter replays a run · escape back", id="history-head")
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield SteadyFooter()

    async def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("started", "run", "status", "agents", "cost", "task")
        rows = self.rows
        if rows is None:
            rows = await self.store.list_runs(limit=200) if self.store is not None else []
            self.rows = rows
        for r in rows:
            table.add_row(
                time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
                r.run_id,
                r.status,
                str(max(0, r.agents - 1)),
                fmt_cost(r.cost_usd),
                one_line(r.task or "(no task)", 70),
                key=r.run_id,
            )
        if not rows:
            self.query_one("#history-head", Static).update("History: no runs recorded yet")
        table.focus()

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
