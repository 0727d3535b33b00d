"""`delegate resume` of a demo run quit while the CEO's check was in flight: the cut call
shows as interrupted (not still running), the header follows the resumed run's live state,
and the CEO's calls after it are lines of their own."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.events import CEO_ID, Event, ToolCallFinished, ToolCallStarted
from core.session import Session
from core.store import Store
from tests.tui_support import live_app, sim_settings, wait_until
from tui.app import DelegateApp
from tui.launch import DEMO_TASK, resumed_app
from tui.screens.confirm import ConfirmScreen
from tui.widgets.run_header import RunHeader
from tui.widgets.tool_line import ToolLine

SIZE = (120, 40)


def _ceo_check_waits(app: DelegateApp) -> bool:
    return any(r.agent_id == CEO_ID for r in app.view.approvals.values())


def _lines(app: DelegateApp) -> list[str]:
    return [str(line.render()) for line in app.screen.query(ToolLine)]


def _header(app: DelegateApp) -> str:
    return str(app.screen.query_one(RunHeader).render())


async def test_resume_shows_the_cut_check_interrupted_and_follows_the_live_state(
    tmp_path: Path,
) -> None:
    # Every command asks, so the CEO's check waits in the inbox: in flight when we quit.
    settings = sim_settings(tmp_path, scenario="default:approval", allow_commands=())
    store = await Store.open(settings.db_path)  # type: ignore[arg-type]
    app, session = live_app(settings, DEMO_TASK, store=store)
    session.bus.subscribe(store.append)
    try:
        try:
            await _quit_during_the_check(app, session)
        finally:
            await app.close_session()
        assert session.status == "stopped"
        await store.flush()
        events = await store.events(session.run_id)
        started = [e for e in events if isinstance(e, ToolCallStarted) and e.agent_id == CEO_ID]
        ended = {e.tool_use_id for e in events if isinstance(e, ToolCallFinished)}
        cut = [e for e in started if e.tool_use_id not in ended]
        assert [e.name for e in cut] == ["run_check"]
        await _resume_and_go_on(settings, store, session.run_id, events)
    finally:
        await store.close()


async def _quit_during_the_check(app: DelegateApp, session: Session) -> None:
    async with app.run_test(size=SIZE) as pilot:
        while not _ceo_check_waits(app):  # the agents' commands: approved one by one
            await wait_until(pilot, lambda: app.view.approvals, timeout=60)
            if not _ceo_check_waits(app):
                await pilot.press("a")
                await pilot.pause()
        await wait_until(pilot, lambda: any(x.startswith("▸ … check") for x in _lines(app)))
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_until(pilot, lambda: session.finished, timeout=30)


async def _resume_and_go_on(
    settings: Settings, store: Store, run_id: str, events: list[Event]
) -> None:
    settings = settings.with_overrides(allow_commands=("python -m pytest",))
    async with resumed_app(settings, store, run_id, events) as resumed:
        async with resumed.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await resumed.main_screen.flush()  # type: ignore[union-attr]
            lines = _lines(resumed)
            checks = [line for line in lines if "check: python -m pytest" in line]
            assert checks and "interrupted" in checks[0], lines
            assert not any(line.startswith("▸ … ") for line in lines), lines
            assert resumed.view.status == "running"
            assert "stopped" not in _header(resumed).split("\n")[0]
            assert not resumed.view.ceo_busy  # q does not say the CEO still works
            # The operator asks the CEO to go on: the header follows it to its answer.
            await pilot.press("i")
            await pilot.press(*"go on")
            await pilot.press("enter")
            await wait_until(pilot, lambda: resumed.view.answered, timeout=60)
            await resumed.main_screen.flush()  # type: ignore[union-attr]
            assert "answered" in _header(resumed)
            assert not any(line.startswith("▸ … ") for line in _lines(resumed))
            await pilot.press("escape", "q")  # out of the message box, then quit
            await wait_until(pilot, lambda: resumed.session_closed and resumed.session.finished)  # type: ignore[union-attr]
        assert resumed.view.status in ("done", "unverified")
