"""The transcript wraps to the screen: at 80 columns no line is wider than the log, so
no horizontal scrollbar eats a row (RichLog renders at 78 columns at least by default)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import RichLog

from tests.tui_support import sample_app
from tui.screens.run import RunScreen
from tui.screens.transcript import TranscriptScreen


@pytest.mark.parametrize("size", [(80, 24), (100, 30)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_transcript_fits_the_width(tmp_path: Path, size: tuple[int, int]) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        await screen.flush()
        agent = app.view.agents["research-1"]
        rows = "\n".join(f"row {i}" for i in range(60))
        agent.messages[1] += [
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "tu-w", "name": "run_command",
                 "input": {"command": "ls -la"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "tu-w", "content": rows}]},
        ]  # fmt: skip
        await app.push_screen(TranscriptScreen(app.view, "research-1", tmp_path))
        await pilot.pause()
        await pilot.press("o")  # every item whole: taller than the screen
        await pilot.pause()
        log = app.screen.query_one(RichLog)
        assert log.virtual_size.height > log.size.height  # long enough to scroll down
        assert log.max_scroll_x == 0 and not log.show_horizontal_scrollbar
