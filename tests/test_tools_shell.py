"""run_command / run_shell: exit codes, capped output, timeouts, and killing the whole group."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from core.tools.base import ToolContext, ToolError, ToolResult, execute
from core.tools.registry import build_tools
from core.tools.shell import _budgets, _CappedBuffer, command_timeout, run_shell

TOOLS = build_tools(["run_command"])


async def _allow(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
    return True, ""


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(workspace=tmp_path, agent_id="coding-1", authorize=_allow)


async def run(ctx: ToolContext, command: str, **extra: object) -> ToolResult:
    return await asyncio.wait_for(
        execute(TOOLS, "run_command", {"command": command, **extra}, ctx), 10
    )


def _live_members(pgid: int) -> list[int]:
    """Pids in process group `pgid` that are not zombies (a container's init may not reap)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry))
    return alive


async def _poll(predicate: object, limit_s: float) -> bool:
    """Bounded poll of a condition on the OS (no event exists for it)."""
    assert callable(predicate)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())


async def test_exit_code_and_streams(ctx: ToolContext) -> None:
    res = await run(ctx, "echo out; echo err >&2; exit 3")
    assert res.is_error
    assert res.text.startswith("exit code 3")
    assert "--- stdout ---\nout" in res.text and "--- stderr ---\nerr" in res.text
    res = await run(ctx, "pwd")
    assert not res.is_error and res.text.startswith("exit code 0")
    assert str(ctx.workspace.resolve()) in res.text
    res = await run(ctx, "true")
    assert "(no output)" in res.text


async def test_run_shell_keeps_streams_apart(tmp_path: Path) -> None:
    result = await run_shell("printf 'a\\nb\\n'; printf 'oops' >&2; exit 1", tmp_path, 5, 1000)
    assert (result.exit_code, result.stdout_tail, result.stderr_tail) == (1, "a\nb\n", "oops")
    assert not result.timed_out and not result.truncated


async def test_huge_output_is_capped(ctx: ToolContext) -> None:
    ctx.output_cap_bytes = 10_000
    res = await run(ctx, "head -c 20000000 /dev/zero | tr '\\0' 'a'; echo; echo END")
    assert not res.is_error
    assert len(res.text) < 11_000
    assert "bytes cut" in res.text and res.text.rstrip().endswith("bytes cut]")
    assert "END" in res.text  # the tail is kept


def test_capped_buffer_memory_is_bounded() -> None:
    buf = _CappedBuffer(1000)
    for i in range(1000):
        buf.feed(bytes([65 + i % 26]) * 4096)
    assert len(buf.head) + len(buf.tail) <= 1500
    assert buf.total == 4_096_000
    text, cut = buf.render(900)
    assert cut == 4_096_000 - 900 and text.startswith("A" * 300)


def test_budgets_share_the_cap() -> None:
    assert _budgets(10, 20, 100) == (10, 20)
    assert _budgets(10, 500, 100) == (10, 90)
    assert _budgets(500, 500, 100) == (50, 50)


async def test_timeout_stops_the_command(ctx: ToolContext) -> None:
    started = time.monotonic()
    res = await run(ctx, "echo begun; sleep 30", timeout_s=0.3)
    assert res.is_error and res.text.startswith("timed out after 0.3 s")
    assert "begun" in res.text
    assert time.monotonic() - started < 5


def test_timeout_values() -> None:
    assert command_timeout(None, 120) == 120
    assert command_timeout(5, 120) == 5
    assert command_timeout(10_000, 120) == 600
    with pytest.raises(ToolError, match="positive"):
        command_timeout(0, 120)


async def test_background_jobs_do_not_outlive_the_command(ctx: ToolContext) -> None:
    res = await run(ctx, "sleep 30 & echo $! > bg.pid; echo started")
    assert not res.is_error and "started" in res.text
    pid = int((ctx.workspace / "bg.pid").read_text())
    assert await _poll(lambda: not _exists(pid), 2)


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_cancel_kills_the_whole_group(ctx: ToolContext) -> None:
    pid_file = ctx.workspace / "pgid"
    task = asyncio.create_task(run(ctx, "echo $$ > pgid; sh -c 'sleep 30 & sleep 30 & wait'"))
    assert await _poll(lambda: pid_file.exists() and pid_file.read_text().strip(), 5)
    pgid = int(pid_file.read_text())
    # outer sh, inner sh and two sleeps
    assert await _poll(lambda: len(_live_members(pgid)) >= 4, 5)
    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert await _poll(lambda: not _live_members(pgid), 1.0)
    assert time.monotonic() - cancelled_at < 1.0


def _live_in(directory: Path) -> list[int]:
    """Non-zombie processes whose working directory is `directory`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _exists(int(entry)):
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(directory):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("ticks", [0, 1, 2, 3, 5, 8])
async def test_cancel_while_spawning_kills_the_group(tmp_path: Path, ticks: int) -> None:
    task = asyncio.create_task(run_shell("sleep 30 & sleep 30 & wait", tmp_path, 60, 1000))
    for _ in range(ticks):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)
    assert await _poll(lambda: not _live_in(tmp_path.resolve()), 1.0)


async def test_denied_command_is_a_tool_error(ctx: ToolContext) -> None:
    calls: list[tuple[str, str, str, str]] = []

    async def deny(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
        calls.append((agent_id, tool, command, cwd))
        return False, "command denied by policy: it matches the denied prefix 'touch'"

    ctx.authorize = deny
    res = await run(ctx, "touch made")
    assert res.is_error and "denied by policy" in res.text
    assert not (ctx.workspace / "made").exists()
    assert calls == [("coding-1", "run_command", "touch made", str(ctx.workspace.resolve()))]


async def test_api_key_is_not_passed_to_commands(
    ctx: ToolContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    res = await run(ctx, 'echo "key=${ANTHROPIC_API_KEY:-none}"')
    assert "key=none" in res.text


async def test_invalid_input(ctx: ToolContext) -> None:
    assert (await run(ctx, "   ")).is_error
    assert (await run(ctx, "true", timeout_s=-1)).is_error
    res = await execute(TOOLS, "run_command", {"command": 5}, ctx)
    assert res.is_error and "must be string" in res.text
