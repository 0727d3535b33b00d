"""The model scorecard of recorded runs (`delegate stats` in the app), from the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.stats_cli import LEGEND, STATS_COLUMNS, TERMINAL_COLUMNS, stats_cells, terminal_cells
from tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from core.records import RunRecords
    from core.scorecard import ScoreRow

EXPLAIN = (
    "Model scorecard of recorded runs · passed: done, not retried, run verified · "
    "stopped attempts are left out of the rate · escape back"
)


NARROW_BELOW = 120


class StatsScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back", id="stats.back"),
    ]
    DEFAULT_CSS = """
    StatsScreen #stats-head { height: auto; background: $panel; padding: 0 1; }
    StatsScreen DataTable { height: 1fr; }
    """

    def __init__(self, store: RunRecords | None) -> None:
        super().__init__()
        self.store = store
        self.rows: list[ScoreRow] | None = None  # once loaded

    def compose(self) -> ComposeResult:
        yield Static(EXPLAIN, id="stats-head")
        yield DataTable(id="stats-table", cursor_type="row", zebra_stripes=True)
        yield SteadyFooter()

    async def on_mount(self) -> None:
        from core.scorecard import scorecard

        table = self.query_one(DataTable)
        # Under 120 columns the CLI's short headers and cells, so no header is cut.
        narrow = self.app.size.width < NARROW_BELOW
        table.add_columns(*(TERMINAL_COLUMNS if narrow else STATS_COLUMNS))
        cells = terminal_cells if narrow else stats_cells
        table.focus()
        head = self.query_one("#stats-head", Static)
        if self.store is None:
            self.rows = []
            head.update("Model scorecard: no run database is open")
            return
        from core.records import RecordsError as StoreError

        try:
            if not self.store.readonly:
                await self.store.flush()  # the live run's latest events count too
            records = await self.store.attempt_records()
            self.rows = scorecard(records)
        except StoreError as exc:
            self.rows = []
            head.update(f"Model scorecard: {exc}")
            return
        for row in self.rows:
            table.add_row(*cells(row))
        if not self.rows:
            head.update("Model scorecard: no runs recorded yet · escape back")
            return
        runs = len({r.run_id for r in records})
        counted = f"{runs} run{'s' if runs != 1 else ''}"
        head.update(f"{LEGEND} · {counted} · escape back" if narrow else f"{EXPLAIN} · {counted}")

    def action_close(self) -> None:
        self.dismiss(None)
