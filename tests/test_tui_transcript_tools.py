"""Tool calls in the transcript read as code and commands, not JSON; results are capped
until a click on the item (or `o`) shows them whole."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from textual.widgets import RichLog

from tests.tui_support import sample_app
from tui.screens.transcript import TranscriptScreen, render_message
from tui.tool_render import RESULT_LINES, language

CODE = 'def greet(name):\n    """Say hello."""\n    return f"hello {name}\\n"\n'
LONG = "\n".join(f"row {i}" for i in range(50))


def _plain(parts: list[RenderableType], width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    for part in parts:
        console.print(part)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in text.splitlines())


def _call(name: str, args: dict[str, Any], call_id: str = "tu-1") -> dict[str, Any]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": args}
    return {"role": "assistant", "content": [block]}


def _result(body: str, call_id: str = "tu-1") -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call_id, "content": body}],
    }


def _syntax(parts: list[RenderableType]) -> list[Syntax]:
    inner = [p.renderable if isinstance(p, Padding) else p for p in parts]
    return [p for p in inner if isinstance(p, Syntax)]


def test_a_written_file_is_a_code_block_in_its_language() -> None:
    parts = render_message(_call("write_file", {"path": "src/greet.py", "content": CODE}))
    (block,) = _syntax(parts)
    assert block.lexer is not None and block.lexer.aliases[0] == "python"
    text = _plain(parts)
    assert "src/greet.py · python · 3 lines" in text
    assert '    """Say hello."""' in text  # the file's own lines, indented as written
    assert 'return f"hello {name}\\n"' in text  # the source as written, one line each
    assert '"content"' not in text and '"path"' not in text
    assert language("site/index.html") == "html" and language("notes") == "text"


def test_an_edit_shows_old_and_new_text_as_code() -> None:
    args = {"path": "site/app.js", "old_text": "let a = 1;", "new_text": "const a = 2;\nf(a);"}
    parts = render_message(_call("edit_file", args))
    blocks = _syntax(parts)
    assert len(blocks) == 2 and all(b.lexer and "javascript" in b.lexer.aliases for b in blocks)
    text = _plain(parts)
    assert "replace (1 line):" in text and "with (2 lines):" in text and "f(a);" in text


def test_commands_read_as_commands_and_other_inputs_as_key_value() -> None:
    text = _plain(render_message(_call("run_command", {"command": "npm test", "timeout_s": 60})))
    assert "$ npm test" in text and "timeout_s: 60" in text and "{" not in text
    note = "line one\nline two"
    text = _plain(render_message(_call("steer_agent", {"agent_id": "coding-1", "message": note})))
    assert "agent_id: coding-1" in text
    assert "  message:\n    line one\n    line two" in text
    assert "\\n" not in text


def test_results_are_capped_until_expanded() -> None:
    capped = _plain(render_message(_result(LONG)))
    assert f"row {RESULT_LINES - 1}" in capped and f"row {RESULT_LINES}" not in capped
    assert f"… {50 - RESULT_LINES} more lines" in capped
    assert "row 49" in _plain(render_message(_result(LONG), {"tu-1"}))
    assert "row 49" in _plain(render_message(_result(LONG), True))
    assert "row 49" not in _plain(render_message(_result(LONG), {"other"}))


def _log_text(screen: TranscriptScreen) -> str:
    return "\n".join(strip.text for strip in screen.query_one(RichLog).lines)


async def test_o_and_a_click_expand_results_in_the_transcript(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    agent = app.view.agents["research-1"]
    agent.messages[1] += [
        _call("write_file", {"path": "notes.md", "content": "# Notes\n\n- one\n"}, "tu-a"),
        _result(LONG, "tu-a"),
        _call("run_command", {"command": "ls -la"}, "tu-b"),
        _result(LONG.replace("row", "file"), "tu-b"),
    ]
    async with app.run_test(size=(120, 60)) as pilot:
        await pilot.pause()
        screen = TranscriptScreen(app.view, "research-1", tmp_path)
        await app.push_screen(screen)
        await pilot.pause()
        text = _log_text(screen)
        assert "$ ls -la" in text and "# Notes" in text and "notes.md · markdown" in text
        assert "row 49" not in text and text.count(f"… {50 - RESULT_LINES} more lines") == 2

        await pilot.press("o")  # every item whole
        text = _log_text(screen)
        assert "row 49" in text and "file 49" in text and "more lines" not in text
        await pilot.press("o")  # capped again
        assert "row 49" not in _log_text(screen)

        log = screen.query_one(RichLog)
        log.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        y = next(i for i, s in enumerate(log.lines) if "more lines" in s.text)
        x = log.lines[y].text.index("more lines")
        await pilot.click(RichLog, offset=(x + 1, y - int(log.scroll_y)))
        await pilot.pause()
        text = _log_text(screen)
        assert screen.expanded == {"tu-a"}
        assert "row 49" in text and "file 49" not in text  # only the clicked item opened

        y = next(i for i, s in enumerate(log.lines) if "show fewer lines" in s.text)
        log.scroll_to(y=y, animate=False, immediate=True)
        await pilot.pause()
        x = log.lines[y].text.index("show fewer")
        await pilot.click(RichLog, offset=(x + 1, y - int(log.scroll_y)))
        await pilot.pause()
        assert screen.expanded == set() and "row 49" not in _log_text(screen)  # capped again
