"""Replay: the recorded run plays through the same view and widgets to the same final board."""

from __future__ import annotations

from pathlib import Path

from core.store import Store
from tests.tui_support import live_app, sim_settings, wait_until
from tui.app import DelegateApp
from tui.screens.run import RunScreen
from tui.widgets.agent_board import AgentBoard
from tui.widgets.agent_pane import render_agent


def _board(app: DelegateApp) -> dict[str, str]:
    now = app.view.last_ts
    return {a.agent_id: render_agent(a, now, 44).plain for a in app.view.board()}


async def test_replay_shows_the_final_board_of_the_live_run(tmp_path: Path) -> None:
    settings = sim_settings(tmp_path, permission_mode="allow")
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, "Build a landing page", store=store)
    session.bus.subscribe(store.append)
    async with app.run_test(size=(160, 48)) as pilot:
        # The CEO's final answer with nothing running (a gap between two CEO turns is not).
        await wait_until(pilot, lambda: app.view.answered, timeout=20)
        await app.close_session()
        await wait_until(pilot, lambda: app.view.status != "running")
        live = _board(app)
        attempts = {a.agent_id: a.attempt for a in app.view.agents.values()}
    await store.flush()
    events = await store.events(session.run_id)
    await store.close()
    assert max(attempts.values()) >= 2  # the default scenario retries one agent

    replay = DelegateApp(replay_events=events)
    async with replay.run_test(size=(160, 48)) as pilot:
        screen = replay.screen
        assert isinstance(screen, RunScreen) and screen.replay is not None
        await pilot.press("space")
        assert screen.replay.paused
        await pilot.press("right_square_bracket")
        assert screen.replay.speed == 8.0
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.replay.speed == 2.0
        await pilot.press("G")
        assert screen.replay.done
        await screen.flush()
        await pilot.pause()
        assert _board(replay) == live
        panes = set(screen.query_one(AgentBoard).panes)
        assert panes == set(live)
        assert screen.check_action("steer", ()) is False
        assert screen.check_action("approve", ()) is False
