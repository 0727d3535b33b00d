"""Commands stay in the workspace the run opened: replacing the folder by a symlink to `/`
mid-run moves neither a sandboxed command (bwrap binds the pinned directory) nor an
unconfined one (refused, since the path no longer names the pinned directory)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from core.sandbox import SandboxSettings, detect_runner
from core.tools.base import ToolContext, ToolError
from core.tools.shell import RunCommand, run_shell
from core.tools.workspace import Workspace
from tests.sandbox_support import needs_sandbox


async def _allow(*_: object) -> tuple[bool, str | None]:
    return True, None


def _swap_for_root(ws: Path) -> Path:
    """Move the workspace aside and put a symlink to `/` where it was; the moved path."""
    moved = ws.with_name(ws.name + "-moved")
    os.rename(ws, moved)
    os.symlink("/", ws)
    return moved


@needs_sandbox
async def test_sandboxed_command_runs_in_the_pinned_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "marker.txt").write_text("original")
    runner = detect_runner(SandboxSettings(), ws.resolve())
    root = Workspace(ws)
    moved = _swap_for_root(ws)
    name = f"made-{uuid.uuid4().hex}.txt"
    result = await run_shell(
        f"ls; echo made > {name}", root.path, 30, 10_000, runner, workspace_fd=root.fd
    )
    assert result.exit_code == 0, result.stderr_tail
    assert "marker.txt" in result.stdout_tail
    assert "usr" not in result.stdout_tail.split()
    assert (moved / name).read_text() == "made\n"
    assert not (Path("/") / name).exists()


async def test_unconfined_command_refused_when_the_workspace_was_replaced(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    ctx = ToolContext(agent_id="coding-1", workspace=ws, authorize=_allow)
    assert ctx.root is not None
    moved = _swap_for_root(ws)
    name = f"escaped-{uuid.uuid4().hex}.txt"
    with pytest.raises(ToolError, match="moved or replaced"):
        await RunCommand().run({"command": f"touch {name}"}, ctx)
    assert not (moved / name).exists()
    assert not (Path("/") / name).exists()
