"""What a new run shows before anything happened: the chat says what to do, the empty
board says why it is empty at its top, and the hints in the message box are whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.cells import cell_len

from core.events import Notice
from tests.tui_support import QuietSession
from tui.app import DelegateApp
from tui.screens.run import RunScreen
from tui.widgets.agent_board import EMPTY_TEXT

SIZES = [(80, 24), (100, 30), (160, 48)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_new_run_says_what_to_do(tmp_path: Path, size: tuple[int, int]) -> None:
    app = DelegateApp(session=QuietSession(), autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await screen.flush()
        await pilot.pause()
        chat = screen.chat
        assert app.focused is chat.input  # no task: the message box first
        assert chat.empty.display and chat.empty.region.area > 0
        assert "Type a task below and press enter" in str(chat.empty.render())
        # The answered hint fits the message box whole (a cut one reads "… or escap").
        answered = screen.answered_placeholder()
        chat.set_state("waiting for you", placeholder=answered)
        await pilot.pause()
        assert cell_len(answered) <= chat.input.content_region.width
        app.view.apply(Notice(run_id="quiet", agent_id="ceo", text="started"))
        await screen.flush()
        await pilot.pause()
        assert not chat.empty.display  # the conversation began: the hint is gone
        if screen.narrow:
            screen.action_switch_view()
            await pilot.pause()
        board = screen.board
        assert not board.grid.display
        assert str(board.status.render()) == EMPTY_TEXT
        assert board.status.region.y == board.content_region.y  # at the top, not the bottom


async def test_help_names_each_key_on_one_line(tmp_path: Path) -> None:
    """The key column is as wide as its keys: `tab / shift+tab` wrapped over two rows
    while the descriptions had room to spare."""
    from textual.widgets._markdown import MarkdownTableCellContents

    from tui.screens.help import HelpScreen

    app = DelegateApp(session=QuietSession(), autostart=False, export_dir=tmp_path)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app.action_help()
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        cells = app.screen.query(MarkdownTableCellContents)
        keys = [c for c in cells if (c.name or "").endswith(".1")]  # "cell<row>.<column>"
        assert len(keys) >= 15
        for cell in keys:  # the first column's text fits its width: no key on two rows
            assert cell_len(str(cell.render())) <= cell.content_region.width, cell.render()
