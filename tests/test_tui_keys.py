"""Pilot tests: every key and modal, asserting what really happened in the Session."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.events import Event, SteerQueued, TimeoutChanged
from tests.tui_support import fill, live_app, sim_settings, wait_until
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.retry import RetryScreen
from tui.screens.run import OVER_LIVE_HINT, RunScreen
from tui.screens.steer import SteerScreen
from tui.screens.transcript import TranscriptScreen
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import AgentPane
from tui.widgets.recent_output import RecentOutput

SIZE = (160, 48)
# Two agents that stay running while streaming a trickle: the app stays near idle, so
# each simulated key press (which waits for the app to go idle) answers quickly.
SLOW = "load:agents=2,tps=2,seconds=600"


def _running(app: object, n: int = 2) -> bool:
    view = app.view  # type: ignore[attr-defined]
    return sum(1 for a in view.agents.values() if a.state == "running") >= n


async def _board_ready(pilot: object, app: object) -> RunScreen:
    await wait_until(pilot, lambda: _running(app))
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, RunScreen)
    board = screen.query_one(AgentBoard)
    await wait_until(pilot, lambda: len(board.panes) == 2)
    next(iter(board.panes.values())).focus()
    await pilot.pause()  # type: ignore[attr-defined]
    return screen


async def test_steer_and_interrupt_keys(tmp_path: Path) -> None:
    app, session = live_app(sim_settings(tmp_path, scenario=SLOW), "load")
    seen: list[Event] = []
    session.bus.subscribe(seen.append)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _board_ready(pilot, app)
        target = screen.selected
        assert target is not None
        await pilot.press("s")
        assert isinstance(app.screen, SteerScreen)
        await pilot.press(*"use tabs", "enter")
        await wait_until(pilot, lambda: any(isinstance(e, SteerQueued) for e in seen))
        steer = next(e for e in seen if isinstance(e, SteerQueued))
        assert (steer.agent_id, steer.message, steer.interrupt) == (target, "use tabs", False)
        receipt = app.view.agents[target].steers[-1]
        assert receipt.message == "use tabs"
        await pilot.press("S")
        assert isinstance(app.screen, SteerScreen) and app.screen.interrupt
        fill(app, "stop now")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any(isinstance(e, SteerQueued) and e.interrupt for e in seen)
        )
        await wait_until(pilot, lambda: app.view.agents[target].steers[-1].delivered_turn)
        await pilot.press("s", "escape")  # cancel sends nothing
        assert isinstance(app.screen, RunScreen)
        assert sum(isinstance(e, SteerQueued) for e in seen) == 2
        await app.close_session()


async def test_kill_retry_extend_keys(tmp_path: Path) -> None:
    app, session = live_app(sim_settings(tmp_path, scenario=SLOW), "load")
    seen: list[Event] = []
    session.bus.subscribe(seen.append)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _board_ready(pilot, app)
        target = screen.selected
        assert target is not None
        before = app.view.agents[target].timeout_s or 0
        await pilot.press("plus")
        await wait_until(pilot, lambda: any(isinstance(e, TimeoutChanged) for e in seen))
        assert app.view.agents[target].timeout_s == before + 300
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.view.agents[target].state == "running"
        await pilot.press("x", "y")
        await wait_until(pilot, lambda: app.view.agents[target].state == "killed")
        record = {r.agent_id: r for r in session.agents()}[target]
        assert record.state == "killed"
        await pilot.pause()
        await pilot.press("r")
        assert isinstance(app.screen, RetryScreen)
        shown = app.screen.query_one("#retry-recent", RecentOutput)
        agent = app.view.agents[target]
        lines = str(shown.content).splitlines()
        assert lines[:-1] == agent.tail_lines(10) and lines[-1].startswith("= ")
        fill(app, "smaller steps")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.view.agents[target].attempt == 2)
        record = {r.agent_id: r for r in session.agents()}[target]
        assert record.attempt == 2 and record.note == "smaller steps"
        await app.close_session()


async def test_approval_keys(tmp_path: Path) -> None:
    """a / d / A answer the oldest pending request of the real approval broker."""
    app, session = live_app(sim_settings(tmp_path, scenario=SLOW), "load")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _board_ready(pilot, app)
        agent_id = screen.selected
        assert agent_id is not None
        results = {}
        for key, command in (("a", "make build"), ("d", "rm -rf build"), ("A", "tree -L 2")):
            ask = asyncio.ensure_future(
                session.approvals.authorize(agent_id, "run_command", command, "/w")
            )
            await wait_until(pilot, lambda: bool(app.view.approvals))
            await wait_until(pilot, lambda: app.view.agents[agent_id].state == "waiting_approval")
            await wait_until(pilot, lambda: screen.inbox.oldest is not None)  # the box is up
            await pilot.press(key)
            async with asyncio.timeout(5):
                results[key] = await ask
            await wait_until(pilot, lambda: not app.view.approvals)
        assert results["a"][0] is True
        assert results["d"] == (False, "the operator denied this command")
        assert results["A"][0] is True
        assert "tree" in session.policy.allow
        assert session.policy.allowed_by("tree src") == "tree"
        await app.close_session()


async def test_transcript_help_history_quit(tmp_path: Path) -> None:
    from core.store import Store

    settings = sim_settings(tmp_path, scenario=SLOW)
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, "load", store=store)
    session.bus.subscribe(store.append)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _board_ready(pilot, app)
        await pilot.press("enter")
        assert isinstance(app.screen, TranscriptScreen)
        await pilot.press("e")
        exported = app.screen.exported
        assert exported is not None and exported.read_text().startswith("# ")
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await store.flush()
        await pilot.press("h")
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen))
        await wait_until(pilot, lambda: app.screen.query_one("DataTable").row_count >= 1)
        history = app.screen
        assert app.check_action("history", ()) is False  # not offered over itself
        await pilot.press("h")
        assert app.screen is history
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.replay)
        replay_screen = app.screen
        assert replay_screen is not screen and replay_screen.check_action("kill", ()) is False
        back = replay_screen.over_live_hint()  # it says the way back
        assert back == OVER_LIVE_HINT.format(back="esc")
        assert back in replay_screen.chat.input.placeholder
        await pilot.press("escape")  # leaves the replay, back to the live run
        assert app.screen is screen
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: session.finished)
    assert all(r.finished for r in session.agents())
    await store.close()


async def test_board_navigation_and_focus(tmp_path: Path) -> None:
    app, _ = live_app(sim_settings(tmp_path, scenario=SLOW), "load")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _board_ready(pilot, app)
        first, second = list(screen.query_one(AgentBoard).panes.values())
        await pilot.press("right")
        assert screen.selected == second.agent_id
        await pilot.press("left")
        assert screen.selected == first.agent_id
        await pilot.press("tab")
        assert screen.selected == second.agent_id
        await pilot.press("shift+tab")
        assert screen.selected == first.agent_id
        await pilot.press("i")
        assert app.focused is not None and app.focused.id == "chat-input"
        await pilot.press("s")  # types, does not steer
        assert isinstance(app.screen, RunScreen)
        await pilot.press("escape")
        assert isinstance(app.focused, AgentPane)
        await pilot.press("c")
        await app.close_session()
