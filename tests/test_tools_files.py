"""File tools: read (capped, binary refused), list, search, write, edit (and its errors)."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from core.tools.base import ToolContext, ToolResult, execute
from core.tools.files import _list_dir
from core.tools.registry import build_tools
from core.tools.workspace import Workspace

TOOLS = build_tools(["read_file", "list_files", "search_files", "write_file", "edit_file"])


async def _allow(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
    return True, ""


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ToolContext(workspace=ws, agent_id="coding-1", authorize=_allow)


async def call(ctx: ToolContext, name: str, **args: object) -> ToolResult:
    return await execute(TOOLS, name, args, ctx)


async def test_write_then_read(ctx: ToolContext) -> None:
    res = await call(ctx, "write_file", path="site/css/style.css", content="body {}\nh1 {}\n")
    assert not res.is_error
    assert res.text == "wrote 14 bytes to site/css/style.css (new file)"
    res = await call(ctx, "read_file", path="site/css/style.css")
    assert res.text == "body {}\nh1 {}"
    res = await call(ctx, "write_file", path="site/css/style.css", content="é")
    assert "wrote 2 bytes" in res.text and "replaced" in res.text


async def test_read_offset_limit_and_continuation(ctx: ToolContext) -> None:
    (ctx.workspace / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    res = await call(ctx, "read_file", path="n.txt", offset=3, limit=2)
    assert res.text.splitlines()[:2] == ["line 3", "line 4"]
    assert "offset=5" in res.text
    res = await call(ctx, "read_file", path="n.txt", offset=9)
    assert res.text == "line 9\nline 10"
    res = await call(ctx, "read_file", path="n.txt", offset=50)
    assert "past the end" in res.text
    res = await call(ctx, "read_file", path="n.txt", offset=0)
    assert res.is_error


async def test_read_huge_file_is_capped(ctx: ToolContext) -> None:
    big = ctx.workspace / "big.log"
    with big.open("wb") as f:
        block = (b"x" * 99 + b"\n") * 10_000  # 1 MB
        for _ in range(50):
            f.write(block)
    res = await call(ctx, "read_file", path="big.log")
    assert not res.is_error
    assert len(res.text.encode()) < ctx.output_cap_bytes + 500
    assert "the file continues" in res.text


async def test_read_very_long_line_is_cut(ctx: ToolContext) -> None:
    (ctx.workspace / "min.js").write_bytes(b"a" * 3_000_000 + b"\nsecond\n")
    res = await call(ctx, "read_file", path="min.js")
    first, second = res.text.splitlines()
    assert "line cut after" in first and len(first) < 5000
    assert second == "second"


async def test_read_refuses_binary_and_dirs(ctx: ToolContext) -> None:
    (ctx.workspace / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    res = await call(ctx, "read_file", path="img.png")
    assert res.is_error and "binary" in res.text
    res = await call(ctx, "read_file", path=".")
    assert res.is_error and "directory" in res.text
    res = await call(ctx, "read_file", path="nope.txt")
    assert res.is_error and "not found" in res.text
    (ctx.workspace / "empty").write_text("")
    assert (await call(ctx, "read_file", path="empty")).text == "(empty file)"


async def test_list_files_sorted_skipping_noise(ctx: ToolContext) -> None:
    ws = ctx.workspace
    for rel in ["b.txt", "a/x.py", "a/y.py", ".git/HEAD", "node_modules/m/i.js", "d1/d2/d3/d4/z"]:
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("1")
    (ws / "a" / "__pycache__").mkdir()
    os.symlink("/etc", ws / "etc_link")
    res = await call(ctx, "list_files")
    lines = res.text.splitlines()
    assert lines[:6] == ["a/", "a/x.py", "a/y.py", "b.txt", "d1/", "d1/d2/"]
    assert "d1/d2/d3/ [...]" in lines
    assert "etc_link -> /etc" in lines
    assert not any(".git" in ln or "node_modules" in ln or "__pycache__" in ln for ln in lines)
    res = await call(ctx, "list_files", path="a")
    assert res.text.splitlines() == ["a/x.py", "a/y.py"]
    res = await call(ctx, "list_files", path="etc_link")
    assert res.is_error and "outside the workspace" in res.text


async def test_list_files_is_capped(ctx: ToolContext) -> None:
    for i in range(510):
        (ctx.workspace / f"f{i:04}.txt").touch()
    res = await call(ctx, "list_files")
    assert len(res.text.splitlines()) == 501
    assert "capped at 500" in res.text


async def test_search_files(ctx: ToolContext) -> None:
    ws = ctx.workspace
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("def foo():\n    return 1\n# TODO fix foo\n")
    (ws / "b.md").write_text("nothing\nTODO: docs\n")
    (ws / "blob.bin").write_bytes(b"TODO\x00\x01")
    (ws / "node_modules").mkdir()
    (ws / "node_modules" / "x.js").write_text("TODO")
    res = await call(ctx, "search_files", pattern=r"TODO")
    assert res.text.splitlines() == ["b.md:2: TODO: docs", "src/a.py:3: # TODO fix foo"]
    res = await call(ctx, "search_files", pattern=r"(?i)def FOO", path="src")
    assert res.text == "src/a.py:1: def foo():"
    res = await call(ctx, "search_files", pattern="zzz")
    assert "no matches" in res.text and not res.is_error
    res = await call(ctx, "search_files", pattern="(")
    assert res.is_error and "invalid regular expression" in res.text
    res = await call(ctx, "search_files", pattern="x", path="../")
    assert res.is_error


async def test_search_is_capped(ctx: ToolContext) -> None:
    (ctx.workspace / "many.txt").write_text("hit\n" * 1000)
    res = await call(ctx, "search_files", pattern="hit")
    lines = res.text.splitlines()
    assert len(lines) == 201 and "stopped after 200 matches" in lines[-1]


async def test_edit_file(ctx: ToolContext) -> None:
    f = ctx.workspace / "app.py"
    f.write_text("a = 1\nb = 2\nc = 3\n")
    res = await call(ctx, "edit_file", path="app.py", old_text="b = 2\n", new_text="b = 20\n")
    assert not res.is_error and "line 2" in res.text
    assert f.read_text() == "a = 1\nb = 20\nc = 3\n"


async def test_edit_file_errors(ctx: ToolContext) -> None:
    f = ctx.workspace / "dup.py"
    f.write_text("x = 1\nx = 1\nx = 1\n")
    res = await call(ctx, "edit_file", path="dup.py", old_text="x = 1", new_text="y")
    assert res.is_error and "occurs 3 times" in res.text
    res = await call(ctx, "edit_file", path="dup.py", old_text="zzz", new_text="y")
    assert res.is_error and "not found" in res.text
    res = await call(ctx, "edit_file", path="dup.py", old_text="", new_text="y")
    assert res.is_error and "empty" in res.text
    res = await call(ctx, "edit_file", path="missing.py", old_text="a", new_text="b")
    assert res.is_error and "not found" in res.text
    assert f.read_text() == "x = 1\nx = 1\nx = 1\n"


async def test_edit_keeps_crlf(ctx: ToolContext) -> None:
    f = ctx.workspace / "win.txt"
    f.write_bytes(b"one\r\ntwo\r\nthree\r\n")
    res = await call(ctx, "edit_file", path="win.txt", old_text="one\ntwo", new_text="1\n2")
    assert not res.is_error
    assert f.read_bytes() == b"1\r\n2\r\nthree\r\n"


async def test_write_refuses_escape_and_directories(ctx: ToolContext, tmp_path: Path) -> None:
    res = await call(ctx, "write_file", path="../evil.txt", content="x")
    assert res.is_error and not (tmp_path / "evil.txt").exists()
    os.symlink(tmp_path, ctx.workspace / "up")
    res = await call(ctx, "write_file", path="up/evil.txt", content="x")
    assert res.is_error and not (tmp_path / "evil.txt").exists()
    (ctx.workspace / "d").mkdir()
    res = await call(ctx, "write_file", path="d", content="x")
    assert res.is_error and "directory" in res.text


async def test_special_files_do_not_block(ctx: ToolContext) -> None:
    os.mkfifo(ctx.workspace / "pipe")
    (ctx.workspace / "a.txt").write_text("needle\n")
    res = await call(ctx, "search_files", pattern="needle")
    assert res.text == "a.txt:1: needle"
    res = await call(ctx, "read_file", path="pipe")
    assert res.is_error and "not a regular file" in res.text
    res = await call(ctx, "write_file", path="pipe", content="x")
    assert res.is_error and "not a regular file" in res.text


def test_listing_leaves_no_cyclic_garbage(tmp_path: Path) -> None:
    """Agents list the workspace every few turns; a listing must be freed by refcount."""
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("# r\n")
    ws = Workspace(tmp_path)
    gc.collect()
    gc.disable()
    try:
        text = _list_dir(ws, ())
        unreachable = gc.collect()
    finally:
        gc.enable()
    assert text.splitlines() == ["README.md", "src/", "src/pkg/", "src/pkg/mod.py"]
    assert unreachable == 0
