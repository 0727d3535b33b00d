"""The CEO's tool lines in the chat: a click opens the input as `key: value` (commands as
`$ command`) and the output as lines, not JSON; a long output is capped until a second click."""

from __future__ import annotations

import json
from pathlib import Path

from tests.contrast_support import screen_strips
from tests.tui_support import sample_app
from tui.tool_render import RESULT_LINES
from tui.widgets.tool_line import ToolLine

SIZE = (160, 60)


async def _click(pilot: object, line: ToolLine) -> None:
    """Bring the line's top into view (the chat follows its end), then click it."""
    line.scroll_visible(top=True, animate=False, immediate=True)
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.click(line)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


def _drawn(app: object, line: ToolLine) -> str:
    strips = screen_strips(app)  # type: ignore[arg-type]
    r = line.region.intersection(app.screen.region)  # type: ignore[attr-defined]
    return "\n".join(strips[y].crop(r.x, r.right).text.rstrip() for y in range(r.y, r.bottom))


async def test_a_click_opens_a_tool_line_for_people(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.main_screen.flush()
        await pilot.pause()
        line = app.screen.query(ToolLine).first()
        closed = line.region.height
        assert "spawned research-1" in _drawn(app, line) and "role:" not in _drawn(app, line)
        await _click(pilot, line)
        text = _drawn(app, line)
        assert "role: research" in text and "task: Survey three coffee" in text
        assert "agent_id: research-1" in text and "state: running" in text
        assert "{" not in text and '"' not in text
        await _click(pilot, line)  # nothing was capped: the next click closes it
        assert line.region.height == closed and not line.expanded


async def test_a_long_output_is_capped_until_the_second_click(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.main_screen.flush()
        await pilot.pause()
        line = app.screen.query(ToolLine).first()
        item = line._item
        assert item is not None
        item.tool_name, item.tool_input = "run_check", {"command": "pytest -q tests/"}
        report = {"exit_code": 1, "output": "\n".join(f"case {i} failed" for i in range(40))}
        item.output = json.dumps(report)
        line.show(item)
        await pilot.pause()
        closed = line.region.height
        await _click(pilot, line)
        text = _drawn(app, line)
        assert "$ pytest -q tests/" in text and "exit_code: 1" in text
        assert "case 0 failed" in text and "case 39 failed" not in text
        assert "\\n" not in text and f"… {40 + 2 - RESULT_LINES} more lines" in text
        await _click(pilot, line)
        text = _drawn(app, line)
        assert "case 39 failed" in text and "more lines" not in text
        await _click(pilot, line)
        assert line.region.height == closed and not line.expanded
