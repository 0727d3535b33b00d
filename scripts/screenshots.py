"""Drive the TUI to its key states and write SVG screenshots into screenshots/.

Uses the fixed synthetic run (tui.sample_run), so the pictures are stable:
    python scripts/screenshots.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.tui_support import sample_app  # noqa: E402
from tui.screens.help import HelpScreen  # noqa: E402
from tui.screens.history import HistoryScreen  # noqa: E402
from tui.screens.retry import RetryScreen  # noqa: E402
from tui.screens.steer import SteerScreen  # noqa: E402
from tui.screens.transcript import TranscriptScreen  # noqa: E402
from tui.widgets.agent_board import AgentBoard  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (160, 48)


async def shoot(name: str, setup: object = None) -> None:
    app = sample_app(Path(tempfile.mkdtemp()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.main_screen is not None
        await app.main_screen.flush()
        app.main_screen.query_one(AgentBoard).focus_agent("research-1")
        await pilot.pause()
        if setup is not None:
            await setup(app, pilot)  # type: ignore[operator]
        for widget in app.screen.query("Input"):
            widget.cursor_blink = False  # type: ignore[attr-defined]
        await pilot.pause()
        app.save_screenshot(str(OUT / f"{name}.svg"))
    print(f"wrote screenshots/{name}.svg")


async def steer(app, pilot) -> None:  # type: ignore[no-untyped-def]
    app.push_screen(SteerScreen("research-1", "Survey three coffee subscription competitors"))
    await pilot.pause()
    await pilot.press(*"Include the cheapest plan of each")


async def retry(app, pilot) -> None:  # type: ignore[no-untyped-def]
    models = sorted(app.session.settings.catalog.models)
    app.push_screen(RetryScreen("data-1", 1, "claude-haiku-5-5", models))
    await pilot.pause()
    await pilot.press(*"the notes are in research/notes.md")


async def transcript(app, pilot) -> None:  # type: ignore[no-untyped-def]
    app.push_screen(TranscriptScreen(app.view, "research-1", Path(tempfile.mkdtemp())))
    await pilot.pause()


async def history(app, pilot) -> None:  # type: ignore[no-untyped-def]
    from tests.test_tui_snapshots import history_rows

    app.push_screen(HistoryScreen(None, history_rows()))
    await pilot.pause()


async def help_screen(app, pilot) -> None:  # type: ignore[no-untyped-def]
    app.push_screen(HelpScreen())
    await pilot.pause()


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    await shoot("main")
    await shoot("steer", steer)
    await shoot("retry", retry)
    await shoot("transcript", transcript)
    await shoot("history", history)
    await shoot("help", help_screen)


if __name__ == "__main__":
    asyncio.run(main())
