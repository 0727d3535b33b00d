"""Every modal and secondary screen (help, confirm, steer, retry, history, dashboard,
scorecard, starting) draws every text at WCAG AA (4.5:1) in every built-in theme: labels,
table cells, buttons focused and not, inputs with their placeholder and the footer.
Disabled footer keys are left out (WCAG exempts inactive controls)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Button
from textual.widgets._footer import FooterKey

from core.config import Settings
from core.records import RunRecords, open_records
from tests.contrast_support import (
    Cell,
    all_states_app,
    behind_modal,
    drawn,
    is_text,
    screen_strips,
)
from tests.store_support import record
from tests.test_scorecard import RUNS
from tests.test_tui_snapshots import history_rows
from tests.tui_support import wait_until
from tui.app import DelegateApp
from tui.contrast import AA_TEXT
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.retry import RetryScreen
from tui.screens.starting import StartingScreen
from tui.screens.stats import StatsScreen
from tui.screens.steer import SteerScreen

SIZE = (120, 50)
THEMES = ("textual-dark", "textual-light")  # the app's own dark and light
Make = Callable[[DelegateApp, RunRecords], Screen[object]]


def _recent(app: DelegateApp) -> list[str]:
    return app.view.agents["research-1"].tail_lines(12)


SCREENS: dict[str, Make] = {
    "help": lambda app, records: HelpScreen({"app.quit": "ctrl+c"}),
    "confirm": lambda app, records: ConfirmScreen("Kill research-1?", "Kill"),
    "steer": lambda app, records: SteerScreen("research-1", "Survey", recent=_recent(app)),
    "interrupt": lambda app, records: SteerScreen(
        "research-1", "Survey", interrupt=True, recent=_recent(app)
    ),
    "retry": lambda app, records: RetryScreen(
        "data-1",
        1,
        "claude-haiku-5-5",
        ["claude-haiku-5-5", "claude-sonnet-5-5"],
        recent=_recent(app),
    ),
    "history": lambda app, records: HistoryScreen(None, history_rows()),
    "dashboard": lambda app, records: DashboardScreen(app.view, clock=app.clock, store=None),  # type: ignore[arg-type]
    "scorecard": lambda app, records: StatsScreen(records),
    "starting": lambda app, records: StartingScreen("Survey three competitors"),
}

# Texts each screen must have drawn (so a check that saw nothing cannot pass).
TEXTS: dict[str, tuple[str, ...]] = {
    "help": ("what it does", "steer the focused agent", "Remapped", "ctrl+c"),
    "confirm": ("Kill research-1?", "Kill (y)", "Cancel (n)"),
    "steer": ("Steer research-1", "Message for the agent", "next turn boundary"),
    "interrupt": ("Interrupt and steer research-1", "delivered now"),
    "retry": ("Retry data-1", "price unknown", "(current)", "Retry (enter)", "Cancel (esc)"),
    "history": ("Earlier task number 1",),
    "dashboard": ("Run dashboard", "research-1"),
    "scorecard": ("claude-opus-5-5",),
    "starting": ("Survey three competitors",),
}


def _inactive(app: DelegateApp, cell: Cell) -> bool:
    widget, _ = app.screen.get_widget_at(cell.x, cell.y)
    return isinstance(widget, FooterKey) and widget.has_class("-disabled")


async def test_every_screen_draws_every_text_at_aa_contrast(tmp_path: Path) -> None:
    """One app, each screen pushed over it in turn: both themes, each twice (a button
    focused, then the next one; the second round scrolled to the end)."""
    db = tmp_path / "runs.db"
    await record(db, *RUNS)
    failures: list[str] = []
    async with open_records(Settings(db_path=db), readonly=True) as records:
        app = all_states_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for name, make in SCREENS.items():
                screen = make(app, records)
                await app.push_screen(screen)
                if isinstance(screen, StatsScreen):
                    await wait_until(pilot, lambda: screen.rows is not None)  # noqa: B023
                await pilot.pause()
                failures += await _check(pilot, app, name, screen)
                app.pop_screen()
                await pilot.pause()
    assert not failures, f"{len(failures)} cells:\n" + "\n".join(failures[:400])


async def _check(pilot: Any, app: DelegateApp, name: str, screen: Screen[object]) -> list[str]:
    buttons = list(screen.query(Button))
    failures: list[str] = []
    checked: list[Cell] = []
    for n, theme in enumerate(THEMES * 2):
        app.theme = theme
        if buttons:  # each button drawn focused and not, theme by theme
            buttons[n % len(buttons)].focus()
        if n == len(THEMES):  # the second round: what scrolls below, drawn too
            for scroll in screen.query(VerticalScroll):
                scroll.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        cells = [c for c in drawn(app, app.screen.region, screen_strips(app)) if is_text(c)]
        for cell in cells:
            if _inactive(app, cell) or behind_modal(app, cell):
                continue
            checked.append(cell)
            if cell.ratio < AA_TEXT:
                failures.append(
                    f"{name} {theme}: {cell.text.strip()!r} "
                    f"{cell.fg} on {cell.bg} = {cell.ratio:.2f}"
                )
    texts = "".join(c.text for c in checked)
    assert all(t in texts for t in TEXTS[name]), (name, texts[:400])
    return failures
