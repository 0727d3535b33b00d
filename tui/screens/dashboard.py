"""The run dashboard (`$`): tokens, cost and tokens per second per agent and per role and
model, with the spend over time as bars and sparklines, updated live from the view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.bar import Bar
from rich.color import Color as RichColor
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import VerticalScroll
from textual.renderables.sparkline import Sparkline as SparkRenderable
from textual.screen import Screen
from textual.widgets import Sparkline, Static

from tui.dashboard_model import Dashboard, Figures, dashboard
from tui.view_model import (
    RunView,
    fmt_duration,
    fmt_output,
    fmt_spend,
    fmt_tokens,
    short_model,
)
from tui.widgets.steady_footer import SteadyFooter

if TYPE_CHECKING:
    from core.records import RunRecords

REFRESH_S = 0.5
RUN_BUCKETS = 60  # the run's spend curve: slices of the run so far
ROW_BUCKETS = 16  # each row's own sparkline
BAR_WIDTH = 14


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.1f}"


class DashboardScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,dollar_sign", "close", "Back", id="dashboard.back"),
        Binding("m", "scorecard", "Model scorecard", id="dashboard.scorecard"),
    ]
    DEFAULT_CSS = """
    DashboardScreen #dash-head { height: auto; background: $panel; padding: 0 1; }
    DashboardScreen #dash-spend-label { height: 1; padding: 0 1; color: $text-muted; }
    DashboardScreen #dash-spend { height: 3; margin: 0 1; }
    DashboardScreen #dash-spend > .sparkline--max-color { color: $warning; }
    DashboardScreen #dash-spend > .sparkline--min-color { color: $primary; }
    DashboardScreen .dash-title { height: 1; padding: 0 1; margin-top: 1; text-style: bold; }
    DashboardScreen .dash-table { height: auto; padding: 0 1; }
    """

    def __init__(
        self,
        view: RunView,
        *,
        clock: Callable[[], float],
        store: RunRecords | None = None,
    ) -> None:
        super().__init__()
        self.view = view
        self.clock = clock
        self.store = store
        self.figures: Dashboard | None = None  # what is on screen (tests read it)
        self.head = Static("", id="dash-head", markup=False)
        self.spend = Sparkline([], id="dash-spend")
        self.agents_table = Static("", id="dash-agents", classes="dash-table")
        self.groups_table = Static("", id="dash-groups", classes="dash-table")

    def compose(self) -> ComposeResult:
        yield self.head
        with VerticalScroll(id="dash-body"):
            yield Static(
                "spend over time (each bar: a slice of the run so far)", id="dash-spend-label"
            )
            yield self.spend
            yield Static("By role and model", classes="dash-title")
            yield self.groups_table
            yield Static("By agent", classes="dash-title")
            yield self.agents_table
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.refresh_figures()
        self.set_interval(REFRESH_S, self.refresh_figures, name="dashboard")

    def refresh_figures(self) -> None:
        figures = dashboard(self.view, self.clock(), RUN_BUCKETS)
        self.figures = figures
        self.head.update(self._head(figures))
        self.spend.data = [max(0.0, x) for x in figures.run.spend]
        self.groups_table.update(self._table(figures, figures.groups, by_agent=False))
        self.agents_table.update(self._table(figures, figures.agents, by_agent=True))

    def _head(self, d: Dashboard) -> Text:
        run = d.run
        t = run.tokens
        recent = run.recent_tokens_per_s
        now = "" if recent is None else f" · now {fmt_rate(recent)} tok/s"
        text = Text.assemble(
            ("Run dashboard ", "bold"),
            self.view.run_id or "(starting)",  # plain: dim fell under AA on $panel
            f"  {run.state}  {fmt_duration(d.span_s)}\n",
            f"{run.agents} agents · in {fmt_tokens(t.input)} · out {fmt_output(t)} · "
            f"cache {fmt_tokens(t.cache_read + t.cache_write)} · ",
            (fmt_spend(t), "bold"),
            f" · {fmt_rate(run.throughput)} tok/s over the run{now}",
        )
        return text

    def _table(self, d: Dashboard, rows: list[Figures], *, by_agent: bool) -> Table:
        table = Table(box=None, pad_edge=False, expand=False, header_style="bold")
        if by_agent:
            table.add_column("agent")
            table.add_column("state")
        else:
            table.add_column("role")
            table.add_column("agents", justify="right")
        table.add_column("model")
        for name in ("in", "out", "cost"):
            table.add_column(name, justify="right")
        table.add_column("share")
        table.add_column("tok/s", justify="right")
        table.add_column("now", justify="right")
        table.add_column("spend")
        total = d.run.cost or 0.0
        low, high, bar, back = self._colors()
        bar_width = BAR_WIDTH if self.size.width >= 120 else BAR_WIDTH // 2
        for f in rows:
            t = f.tokens
            share = Bar(
                size=total or 1.0,
                begin=0,
                end=min(total, f.cost or 0.0),
                width=bar_width,
                color=bar,
                bgcolor=back,
            )
            spark = SparkRenderable(
                [max(0.0, x) for x in f.spend], width=ROW_BUCKETS, min_color=low, max_color=high
            )
            lead = [f.label, f.state] if by_agent else [f.role, str(f.agents)]
            table.add_row(
                *lead,
                short_model(f.model),
                fmt_tokens(t.input),
                fmt_output(t),
                fmt_spend(t),
                share,
                fmt_rate(f.tokens_per_s),
                fmt_rate(f.recent_tokens_per_s),
                spark,
            )
        return table

    def _colors(self) -> tuple[RichColor, RichColor, RichColor, RichColor]:
        """The theme's colours: sparkline low and high, the share bar and its track."""
        theme = self.app.theme_variables

        def color(name: str, fallback: str) -> RichColor:
            return Color.parse(theme.get(name, fallback)).rich_color

        return (
            color("primary", "#0178d4"),
            color("warning", "#ffa62b"),
            color("accent", "#ffa62b"),
            color("panel", "#24292f"),
        )

    def action_close(self) -> None:
        self.dismiss(None)

    def action_scorecard(self) -> None:
        from tui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen(self.store))  # escape comes back here
