"""The board is a window of pane slots: more agents than fit never means more widgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Static

from tests.tui_support import live_app, sim_settings, wait_until
from tui.screens.run import RunScreen
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import AgentPane

# 160 columns give 2 pane columns; 34 rows leave room for 2 pane rows.
SIZE = (160, 34)
TEN = "load:agents=10,tps=2,seconds=600"


def _status(board: AgentBoard) -> str:
    return str(board.query_one("#board-status", Static).render())


async def test_more_agents_than_fit(tmp_path: Path) -> None:
    app, _ = live_app(sim_settings(tmp_path, scenario=TEN, max_concurrent=10), "load")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        board = screen.query_one(AgentBoard)
        await wait_until(pilot, lambda: len(board.order) == 10 and len(board.panes) == 4)
        assert board.capacity == 4
        assert len(screen.query(AgentPane)) == 4  # slots, not one widget per agent
        assert list(board.panes) == board.order[:4]
        await wait_until(
            pilot, lambda: "agents 1–4 of 10 · 6 running out of view" in _status(board)
        )

        board.focus_agent(board.order[0])
        await pilot.pause()
        for expected in (2, 4, 6):  # down moves a row (2 columns); past the edge it rebinds
            await pilot.press("down")
            assert screen.selected == board.order[expected]
            focused = app.focused
            assert isinstance(focused, AgentPane) and focused.agent_id == board.order[expected]
        assert board.top == 4
        assert list(board.panes) == board.order[4:8]
        assert len(screen.query(AgentPane)) == 4
        await wait_until(pilot, lambda: _status(board).startswith("agents 5–8 of 10"))

        await pilot.press("pagedown")  # a page is the 4 slots: index 6 -> 9 (the last)
        assert screen.selected == board.order[9]
        assert screen.selected == board.order[9]
        assert list(board.panes) == board.order[6:10]
        await pilot.press("pageup")
        assert screen.selected == board.order[5]
        await pilot.press("pageup")
        assert screen.selected == board.order[1]
        assert board.top == 0
        await pilot.press("up")  # already on the first row: stays
        assert screen.selected == board.order[1]

        board.scroll_rows(2)  # the wheel: the focused slot now shows another agent
        await pilot.pause()
        assert board.top == 4
        focused = app.focused
        assert isinstance(focused, AgentPane)
        assert screen.selected == focused.agent_id == board.order[5]
        await app.close_session()


async def test_board_shrinks_and_grows_with_the_terminal(tmp_path: Path) -> None:
    app, _ = live_app(sim_settings(tmp_path, scenario=TEN, max_concurrent=10), "load")
    async with app.run_test(size=SIZE) as pilot:
        board = app.screen.query_one(AgentBoard)
        await wait_until(pilot, lambda: len(board.panes) == 4)
        board.focus_agent(board.order[7])
        await pilot.pause()
        await pilot.resize_terminal(160, 60)  # 4 pane rows
        await wait_until(pilot, lambda: board.capacity == 8 and len(board.panes) == 8)
        assert board.selected == board.order[7]
        assert board.order[7] in board.panes
        await pilot.resize_terminal(160, 22)  # 2 shorter rows rather than 1 full one
        # The capacity changes first; the slots' layout and the panes follow in a refresh.
        await wait_until(
            pilot,
            lambda: board.capacity == 4 and {p.region.height for p in board.slots} == {9},
        )
        assert board.selected in board.panes
        await pilot.resize_terminal(160, 18)  # 1 pane row: the selection stays in view
        await wait_until(
            pilot, lambda: board.capacity == 2 and len(app.screen.query(AgentPane)) == 2
        )
        assert board.selected in board.panes
        await app.close_session()


async def test_panes_out_of_view_draw_nothing_and_catch_up_when_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a screen that covers the board, the agents stream on and the flushes run,
    but no pane is drawn; back on top, the first flush draws every changed pane."""
    drawn: list[tuple[int, str | None]] = []  # (the screen's flush count, agent)
    show = AgentPane.show

    def spy(self: AgentPane, agent: Any, now: float) -> None:
        screen = self.screen
        drawn.append((screen.flushes if isinstance(screen, RunScreen) else -1, self.agent_id))
        show(self, agent, now)

    monkeypatch.setattr(AgentPane, "show", spy)
    scenario = "load:agents=4,tps=40,seconds=600"
    app, _ = live_app(sim_settings(tmp_path, scenario=scenario, max_concurrent=4), "load")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RunScreen)
        board = screen.query_one(AgentBoard)
        await wait_until(pilot, lambda: len(board.panes) == 4 and len({a for _, a in drawn}) >= 4)
        await app.push_screen(Screen())
        drawn.clear()
        start = screen.flushes
        await wait_until(pilot, lambda: screen.flushes >= start + 4 and len(board._pending) == 4)
        assert drawn == []
        app.pop_screen()
        await wait_until(pilot, lambda: bool(drawn))
        first = min(f for f, _ in drawn)
        await wait_until(pilot, lambda: screen.flushes > first)
        assert sorted(a for f, a in drawn if f == first) == sorted(board.panes)
        await app.close_session()
