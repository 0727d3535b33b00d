"""Every size from 80×24 up: header, totals, footer, help and modals fit the screen."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Button, OptionList
from textual.widgets._footer import FooterKey

from tests.tui_support import sample_app
from tui.app import DelegateApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.retry import RetryScreen
from tui.screens.run import RunScreen
from tui.screens.steer import SteerScreen
from tui.widgets.run_header import RunHeader
from tui.widgets.steady_footer import SteadyFooter

SIZES = [(80, 24), (100, 30), (120, 35), (160, 48)]


async def _ready(pilot: Any, agent_id: str = "research-1") -> RunScreen:
    app: DelegateApp = pilot.app
    await pilot.pause()
    screen = app.main_screen
    assert screen is not None
    await screen.flush()
    await pilot.pause()
    screen.select(agent_id)
    await pilot.pause()
    return screen


def _inside(widget: Widget, outer: Region) -> bool:
    region = widget.region
    return region.area > 0 and outer.contains_region(region)


# One app a size, checked for everything that size is asked (an app start is the slow
# part): the read-only checks first, then the screens it opens and closes, the modals last.
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_layout_at_each_size(tmp_path: Path, size: tuple[int, int]) -> None:
    async with sample_app(tmp_path).run_test(size=size) as pilot:
        screen = await _ready(pilot)
        _header_is_two_unwrapped_lines_with_the_totals(screen)
        await pilot.pause()
        _footer_shows_whole_keys_only(screen, size)
        if size in BOARD_PANES:
            _board_shows_more_than_one_pane(screen, BOARD_PANES[size])
        if size in HELP_SIZES:
            await _help_wraps_inside_the_screen(pilot)
            await pilot.press("escape")
            await pilot.pause()
            assert pilot.app.screen is screen
        if size in HISTORY_SIZES:
            await _history_fits_the_width(pilot, size)
            pilot.app.pop_screen()
            await pilot.pause()
            assert pilot.app.screen is screen
        if size in MODAL_SIZES:
            await _modals_fit_the_screen(pilot)


def _header_is_two_unwrapped_lines_with_the_totals(screen: RunScreen) -> None:
    header = screen.query_one(RunHeader)
    assert header.region.height == 2 and _inside(header, screen.region)
    first, second = str(header.render()).split("\n")
    width = header.content_region.width
    assert len(first) <= width and len(second) <= width
    assert first.startswith((" sim ", " simulated models ")) and "running" in first
    # The totals: every count and the cost, whole, at every width.
    for part in ("2 running", "1 queued", "1 done", "1 failed", "$0.0699"):
        assert part in second, (part, second)
    assert "…" not in second


async def test_header_drops_tokens_before_the_cost(tmp_path: Path) -> None:
    async with sample_app(tmp_path).run_test(size=(160, 48)) as pilot:
        screen = await _ready(pilot)
        header = screen.query_one(RunHeader)
        wide = str(header.render()).split("\n")[1]
        assert "14.9k cached" in wide and "$5.00 budget" in wide
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        narrow = str(header.render()).split("\n")[1]
        assert "cached" not in narrow and "$0.0699 / $5.00" in narrow


def _footer_shows_whole_keys_only(screen: RunScreen, size: tuple[int, int]) -> None:
    footer = screen.query_one(SteadyFooter)
    keys = list(footer.query(FooterKey))
    labels = [k.description for k in keys]
    for key in keys:  # each label drawn whole, none under another
        assert _inside(key, footer.region), key.description
        assert key.content_region.width == len(str(key.render())), key.description
    for a, b in itertools.pairwise(keys):
        assert not a.region.overlaps(b.region), (a.description, b.description)
    assert {"Quit", "Help", "Steer", "Transcript"} <= set(labels)
    if size[0] < 160:
        assert footer.left_out  # something had to go, and it is the least useful
        assert "Quit" not in footer.left_out


async def test_footer_gives_keys_back_when_wider(tmp_path: Path) -> None:
    async with sample_app(tmp_path).run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        footer = screen.query_one(SteadyFooter)
        narrow = {k.description for k in footer.query(FooterKey)}
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        await pilot.pause()
        wide = {k.description for k in footer.query(FooterKey)}
        assert "Chat/Board" in narrow and "Chat/Board" not in wide  # both shown when wide
        assert narrow - {"Chat/Board"} < wide and "History" in wide - narrow


HELP_SIZES = [(80, 24), (160, 48)]


async def _help_wraps_inside_the_screen(pilot: Any) -> None:
    await pilot.press("question_mark")
    assert isinstance(pilot.app.screen, HelpScreen)
    await pilot.pause()
    screen = pilot.app.screen
    scroll = screen.query_one("VerticalScroll")
    assert _inside(scroll, screen.region)
    assert scroll.max_scroll_x == 0  # nothing to the right of the box
    for widget in scroll.query("*"):
        if widget.region.area:
            assert widget.region.right <= scroll.region.right, widget
    cells = list(scroll.query("MarkdownTableCellContents"))
    assert len(cells) >= 30
    for cell in cells:  # wrapped, not cut: the cell has the rows its words need
        text = str(cell.render())
        width = cell.content_region.width
        assert width > 0
        assert len(textwrap.wrap(text, width)) <= cell.content_region.height, text


def _fits(screen: Any) -> None:
    box = screen.query_one("Vertical")
    assert _inside(box, screen.region)
    for widget in box.query("*"):
        if widget.display and widget.region.area:
            assert box.region.contains_region(widget.region), widget
    for button in box.query(Button):
        assert box.content_region.contains_region(button.region), button.label


MODAL_SIZES = [(80, 24), (100, 30), (160, 48)]


async def _modals_fit_the_screen(pilot: Any) -> None:
    await _ready(pilot)
    await pilot.press("q")  # agents run: the quit question, with every name whole
    assert isinstance(pilot.app.screen, ConfirmScreen)
    await pilot.pause()
    _fits(pilot.app.screen)
    question = str(pilot.app.screen.query_one("#confirm-question").render())
    assert "coding-2" in question and question.rstrip().endswith("quit?")
    await pilot.press("n")

    await pilot.press("S")  # the interrupt modal: its whole hint shows
    assert isinstance(pilot.app.screen, SteerScreen)
    await pilot.pause()
    await pilot.pause()
    _fits(pilot.app.screen)
    hint = " ".join(str(pilot.app.screen.hint.render()).split())
    assert hint.endswith("enter send · escape cancel")
    await pilot.press("escape")

    await _ready(pilot, "writer-1")  # finished: retry applies
    await pilot.press("r")
    assert isinstance(pilot.app.screen, RetryScreen)
    await pilot.pause()
    await pilot.pause()
    _fits(pilot.app.screen)
    models = pilot.app.screen.query_one(OptionList)
    assert models.option_count == 4 and _inside(models, pilot.app.screen.region)
    shown = [str(models.get_option_at_index(i).prompt) for i in range(4)]
    assert any("$0.10 in · $0.50 out per M tokens (current)" in s for s in shown)


async def test_retry_picks_a_model_from_the_list(tmp_path: Path) -> None:
    chosen: list[object] = []
    async with sample_app(tmp_path).run_test(size=(80, 24)) as pilot:
        await _ready(pilot, "writer-1")
        screen = RetryScreen(
            "writer-1", 1, "claude-haiku-5-5", ["claude-haiku-5-5", "claude-opus-5-5"]
        )
        pilot.app.push_screen(screen, chosen.append)
        await pilot.pause()
        await pilot.press("tab", "down", "enter")
        await pilot.pause()
    assert len(chosen) == 1
    request = chosen[0]
    assert getattr(request, "model", None) == "claude-opus-5-5"


def _shown(widget: Widget) -> bool:
    return widget.display and widget.region.area > 0


async def test_narrow_screen_switches_between_board_and_chat(tmp_path: Path) -> None:
    async with sample_app(tmp_path).run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        app = pilot.app
        assert screen.narrow and _shown(screen.tabs)
        assert _shown(screen.board) and not _shown(screen.chat)
        assert "Board" in str(screen.tabs.render()) and "^t switches" in str(screen.tabs.render())
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert _shown(screen.chat) and not _shown(screen.board)
        assert app.focused is screen.chat.input  # ready to type to the CEO
        assert _inside(screen.chat.input, screen.region)
        assert "1 to approve" in str(screen.tabs.render())  # what waits on the other tab
        await pilot.press("escape")  # the message box's way back is the board's tab
        await pilot.pause()
        assert _shown(screen.board) and not _shown(screen.chat)
        assert app.focused is not None and screen.board in (app.focused, *app.focused.ancestors)
        await pilot.press("i")
        await pilot.pause()
        assert _shown(screen.chat) and app.focused is screen.chat.input
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert _shown(screen.board)

        await pilot.resize_terminal(160, 48)  # wide: both, no tabs, no switch key
        await pilot.pause()
        assert not screen.narrow and not _shown(screen.tabs)
        assert _shown(screen.board) and _shown(screen.chat)
        assert screen.check_action("switch_view", ()) is False


async def test_switch_key_is_remapped_by_its_id(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    app.keymap = {"view.switch": "f6"}
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _ready(pilot)
        assert "f6 switches" in str(screen.tabs.render())
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert not _shown(screen.chat)
        await pilot.press("f6")
        await pilot.pause()
        assert _shown(screen.chat)


async def test_chat_tab_marks_new_ceo_output(tmp_path: Path) -> None:
    from core.events import Notice

    async with sample_app(tmp_path).run_test(size=(80, 24)) as pilot:
        screen = await _ready(pilot)
        assert "Chat •" not in str(screen.tabs.render())
        screen.view.apply(Notice(run_id="r", agent_id="ceo", text="the CEO says something"))
        await screen.flush()
        assert "Chat •" in str(screen.tabs.render())
        await pilot.press("ctrl+t")
        await pilot.pause()
        await screen.flush()
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "Chat •" not in str(screen.tabs.render())  # seen


BOARD_PANES = {(80, 24): 2, (100, 30): 4, (160, 48): 5}


def _board_shows_more_than_one_pane(screen: RunScreen, panes: int) -> None:
    board = screen.board
    shown = list(board.panes.values())
    assert len(shown) == panes
    for pane in shown:  # each whole on screen, above the board's status line
        assert board.region.contains_region(pane.region), pane.agent_id
        lines = str(pane.render()).split("\n")
        assert len(lines) <= pane.content_region.height
    status = board.query_one("#board-status")
    if len(board.order) > panes:
        assert _inside(status, board.region) and "of 5" in str(status.render())
        assert "…" not in str(status.render())


def test_pane_rows_prefer_full_height_then_two_short_rows() -> None:
    from tui.widgets.agent_board import pane_rows

    assert pane_rows(44, 2, 5) == (3, 13)  # 160x48
    assert pane_rows(19, 2, 2) == (1, 13)  # 80x24, two agents: one full row holds them
    assert pane_rows(19, 2, 3) == (2, 9)  # a third: two shorter rows show all three
    assert pane_rows(25, 2, 5) == (2, 12)  # 100x30
    assert pane_rows(14, 2, 5) == (1, 13)  # the inbox open at 80x24
    assert pane_rows(5, 2, 5) == (1, 5)


def test_short_pane_keeps_its_newest_output() -> None:
    from tui.sample_run import SAMPLE_NOW
    from tui.view_model import RunView
    from tui.widgets.agent_pane import render_agent

    view = RunView()
    for event in sample_run_events():
        view.apply(event)
    agent = view.agents["research-1"]
    tall = str(render_agent(agent, SAMPLE_NOW, 40)).split("\n")
    short = str(render_agent(agent, SAMPLE_NOW, 40, body=7)).split("\n")
    assert len(short) <= 7 and any("ctx" in line for line in tall)
    assert not any("ctx" in line for line in short)  # the context bar goes first
    assert short[-1] == tall[-1]  # the steer receipt (the pane's last line) stays


def sample_run_events() -> list[Any]:
    from tui.sample_run import sample_events

    return list(sample_events())


@pytest.mark.parametrize("width", [120, 130, 160])
async def test_wide_screen_keeps_two_pane_columns_beside_the_chat(
    tmp_path: Path, width: int
) -> None:
    async with sample_app(tmp_path).run_test(size=(width, 40)) as pilot:
        screen = await _ready(pilot)
        assert not screen.narrow and _shown(screen.chat) and _shown(screen.board)
        assert screen.board.columns == 2
        assert screen.chat.region.width >= 40
        assert screen.chat.region.width + screen.board.region.width <= width


HISTORY_SIZES = [(80, 24), (100, 30), (160, 48)]


async def _history_fits_the_width(pilot: Any, size: tuple[int, int]) -> None:
    from textual.widgets import DataTable

    from tests.test_tui_snapshots import history_rows
    from tui.screens.history import HistoryScreen

    rows = history_rows()
    pilot.app.push_screen(HistoryScreen(None, rows))
    await pilot.pause()
    await pilot.pause()
    table = pilot.app.screen.query_one(DataTable)
    assert table.max_scroll_x == 0  # every column on screen, none to scroll to
    labels = [str(c.label) for c in table.columns.values()]
    assert labels[-1] == "task" and ("started" in labels) == (size[0] >= 100)
    first = table.get_row_at(0)
    assert first[labels.index("run")] == rows[0].run_id
    assert str(first[-1]).startswith(rows[0].task[:10])


async def test_starting_screen_wraps_a_long_task_at_80x24() -> None:
    from textual.app import App

    from tui.screens.starting import StartingScreen

    task = "Research competitors and build a landing page for a coffee subscription " * 2
    app: App[None] = App()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(StartingScreen(task))
        await pilot.pause()
        screen = app.screen
        box = screen.query_one("Vertical")
        assert _inside(box, screen.region)
        for label in box.query("Label"):
            assert box.content_region.contains_region(label.region)
        assert str(box.query("Label")[-1].render()).endswith("…")
