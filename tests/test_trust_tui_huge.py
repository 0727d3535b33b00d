"""A huge tool result (a command printing 100 MB) does not stall the TUI: the board renders
the agent and a key press is answered while and after it arrives."""

from __future__ import annotations

import json
from pathlib import Path

from core.events import Event, ToolCallFinished
from tests.tui_support import live_app, sim_settings, wait_until
from tui.screens.help import HelpScreen
from tui.screens.run import RunScreen
from tui.widgets.agent_board import AgentBoard

HUGE = "echo flood; head -c 100000000 /dev/zero | tr '\\0' 'z'"


async def test_huge_tool_output_keeps_the_tui_responsive(tmp_path: Path) -> None:
    scenario = tmp_path / "flood.toml"
    scenario.write_text(
        'plan = "One agent floods."\n'
        "retry_failed = false\n"
        "[[agents]]\n"
        'role = "data"\n'
        'task = "Print a lot."\n'
        f"commands = [{json.dumps(HUGE)}]\n"
        'report = "Printed."\n'
    )
    settings = sim_settings(tmp_path, scenario=str(scenario), permission_mode="allow")
    app, session = live_app(settings, "Flood")
    seen: list[Event] = []
    session.bus.subscribe(seen.append)
    async with app.run_test(size=(160, 48)) as pilot:

        def flooded() -> bool:
            return any(isinstance(e, ToolCallFinished) and e.name == "run_command" for e in seen)

        await wait_until(pilot, flooded, timeout=20)
        (result,) = [e for e in seen if isinstance(e, ToolCallFinished) and e.name == "run_command"]
        assert len(result.output) < 100_000  # the event carries a capped copy
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await wait_until(pilot, lambda: len(screen.query_one(AgentBoard).panes) == 1)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), timeout=2)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), timeout=2)
        await wait_until(pilot, lambda: session.finished or not session.supervisor.active())
        await app.close_session()
