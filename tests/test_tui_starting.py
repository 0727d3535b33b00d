"""The first frame comes before the session: a starting screen while `connect` builds it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.session import Session
from tests.tui_support import sim_settings, wait_until
from tui.app import DelegateApp
from tui.screens.run import RunScreen
from tui.screens.starting import StartingScreen

SIZE = (120, 40)


class Gate:
    """A `connect` that waits until the test opens it, then builds a real session."""

    def __init__(self, tmp_path: Path, error: Exception | None = None) -> None:
        self.settings = sim_settings(tmp_path, scenario="load:agents=1,tps=5,seconds=600")
        self.open = asyncio.Event()
        self.error = error
        self.session: Session | None = None

    async def __call__(self) -> Session:
        await self.open.wait()
        if self.error is not None:
            raise self.error
        self.session = Session(self.settings, interactive=True)
        return self.session


async def test_starting_screen_then_the_run(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    app = DelegateApp(connect=gate, task="load", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, StartingScreen))
        assert app.session is None
        gate.open.set()
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.session is gate.session and gate.session is not None
        await wait_until(pilot, lambda: app.view.run_id is not None)  # started: events flow
        assert len(app.screen_stack) == 2  # the starting screen was replaced, not stacked
        await app.close_session()
    assert gate.session.finished


async def test_connect_error_exits_with_it(tmp_path: Path) -> None:
    gate = Gate(tmp_path, error=ValueError("no such model"))
    app = DelegateApp(connect=gate, task="load", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, StartingScreen))
        gate.open.set()
        await wait_until(pilot, lambda: not app.is_running)
    assert isinstance(app.connect_error, ValueError)
    assert app.return_code == 2


async def test_q_while_starting_quits(tmp_path: Path) -> None:
    gate = Gate(tmp_path)
    app = DelegateApp(connect=gate, task="load", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, StartingScreen))
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)
    assert gate.session is None  # nothing was started
    assert app.return_code == 0
