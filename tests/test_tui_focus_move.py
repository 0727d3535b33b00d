"""What a focus move between panes touches: the two panes, never the rest of the screen.

With hundreds of agents streaming, a focus key waits a turn of the event loop for every
message queue it passes and competes with everything a frame costs: these check that an
arrow acts in the pane it was pressed on (no climb through the board, the column and the
screen first), that a move restyles only the pane it leaves and the one it reaches, that
nothing is laid out again (a layout walks the chat's whole log), and that a move past the
window's edge redraws the slots once each.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from textual import events

from core.events import (
    AgentFinished,
    AgentSpawned,
    AgentStateChanged,
    Event,
    RunStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnStarted,
)
from tests.tui_support import QuietSession, wait_until
from tui.app import DelegateApp
from tui.screens.run import RunScreen
from tui.screens.steer import SteerScreen
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import AgentPane

SIZE = (160, 34)  # two pane columns, two pane rows: four slots
T0 = 1_772_355_600.0
NOW = T0 + 120.0
AGENTS = 10


def _events(n: int, state: str = "running") -> list[Event]:
    """A run whose CEO spawned `n` agents (a chat line each) that wrote some output."""
    out: list[Event] = []

    def add(cls: type[Event], **fields: Any) -> None:
        out.append(cls(run_id="focus-move", ts=T0 + len(out) * 0.01, **fields))

    add(
        RunStarted,
        task="load",
        workspace="~/ws",
        ceo_model="claude-opus-5-5",
        simulated=True,
        max_concurrent=n,
        budget_usd=100.0,
    )
    add(AgentSpawned, agent_id="ceo", role="ceo", model="claude-opus-5-5", task="load")
    add(AgentStateChanged, agent_id="ceo", state="running")
    for i in range(1, n + 1):
        agent_id = f"coding-{i}"
        args = {"role": "coding", "task": f"Task {i}"}
        add(
            ToolCallStarted,
            agent_id="ceo",
            tool_use_id=f"toolu_{i}",
            name="spawn_agent",
            input=args,
            summary=f"spawn coding: Task {i}",
        )
        add(
            AgentSpawned,
            agent_id=agent_id,
            role="coding",
            model="claude-haiku-5-5",
            task=f"Task {i}",
            timeout_s=600.0,
        )
        add(AgentStateChanged, agent_id=agent_id, state="running")
        receipt = {"agent_id": agent_id, "state": "running"}
        add(
            ToolCallFinished,
            agent_id="ceo",
            tool_use_id=f"toolu_{i}",
            name="spawn_agent",
            output=json.dumps(receipt),
            data=receipt,
        )
        add(TurnStarted, agent_id=agent_id, turn=1, model="claude-haiku-5-5")
        add(TextDelta, agent_id=agent_id, turn=1, text=f"Report {i}: all well so far.\n" * 3)
        if state != "running":
            add(AgentStateChanged, agent_id=agent_id, state=state)
            add(AgentFinished, agent_id=agent_id, state=state, result="ok", elapsed_s=60.0)
    return out


def _app(state: str = "running", keymap: dict[str, str] | None = None) -> DelegateApp:
    return DelegateApp(
        session=QuietSession(),  # type: ignore[arg-type]
        task="load",
        prior_events=_events(AGENTS, state),
        clock=lambda: NOW,
        export_dir=None,
        autostart=False,
        keymap=keymap,
    )


async def _board(pilot: Any, app: DelegateApp) -> tuple[RunScreen, AgentBoard]:
    screen = app.screen
    assert isinstance(screen, RunScreen)
    board = screen.board
    await wait_until(pilot, lambda: len(board.order) == AGENTS and len(board.panes) == 4)
    board.focus_agent(board.order[0])
    await pilot.pause()
    return screen, board


async def test_an_arrow_acts_on_its_pane_and_climbs_no_further(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reached: list[str] = []  # keys that came up to the screen

    def on_key(self: RunScreen, event: events.Key) -> None:
        reached.append(event.key)

    monkeypatch.setattr(RunScreen, "on_key", on_key, raising=False)
    # `l` moves right instead of the arrow (a `[keys]` remap): the pane takes it at once.
    app = _app(keymap={"pane.right": "l"})
    async with app.run_test(size=SIZE) as pilot:
        screen, board = await _board(pilot, app)
        await pilot.press("down")
        assert screen.selected == board.order[2]
        await pilot.press("l")
        assert screen.selected == board.order[3]
        await pilot.press("k")
        assert screen.selected == board.order[1]
        assert reached == []
        await pilot.press("right")  # no longer a pane key: it climbs, and nothing moves
        assert screen.selected == board.order[1]
        assert reached == ["right"]
        await pilot.press("s")  # the screen's key: it climbs to the screen, as before
        assert isinstance(app.screen, SteerScreen)
        assert reached == ["right", "s"]


async def test_a_focus_move_restyles_two_panes_and_lays_out_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = _app(state="done")  # finished agents: no clock redraws meanwhile
    async with app.run_test(size=SIZE) as pilot:
        screen, board = await _board(pilot, app)
        await pilot.pause(0.3)  # the first frames and flushes settle
        restyled: list[object] = []
        layouts: list[object] = []
        drawn: list[str | None] = []
        stylesheet = app.stylesheet
        apply, refresh_layout, show = stylesheet.apply, screen._refresh_layout, AgentPane.show

        def spy_apply(node: Any, **kwargs: Any) -> None:
            restyled.append(node)
            apply(node, **kwargs)

        def spy_layout(*args: Any, **kwargs: Any) -> None:
            layouts.append(args)
            refresh_layout(*args, **kwargs)

        def spy_show(pane: AgentPane, agent: Any, now: float) -> None:
            drawn.append(pane.agent_id)
            show(pane, agent, now)

        monkeypatch.setattr(stylesheet, "apply", spy_apply)
        monkeypatch.setattr(screen, "_refresh_layout", spy_layout)
        monkeypatch.setattr(AgentPane, "show", spy_show)

        slots = board.slots
        for key, to in (("right", 1), ("down", 3), ("left", 2)):  # all inside the window
            left = app.focused
            await pilot.press(key)
            await pilot.pause()
            reached = app.focused
            assert isinstance(reached, AgentPane) and reached.agent_id == board.order[to]
            assert reached is slots[to] and left is not reached
            assert set(restyled) == {left, reached}
            assert layouts == [] and drawn == []
            restyled.clear()

        # Past the bottom edge: the window moves a row and the slots show other agents.
        # The focus stays on its slot (now agent 4), so nothing is restyled; each slot is
        # drawn once, with its new agent.
        await pilot.press("down")
        await pilot.pause()
        assert board.top == 2
        assert screen.selected == board.order[4] == slots[2].agent_id
        assert app.focused is slots[2]
        assert sorted(drawn, key=str) == sorted(board.order[2:6])
        assert restyled == [] and layouts == []
