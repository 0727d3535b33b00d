"""The tool interface shared by worker tools and the CEO's delegation tools."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.sandbox import UNCONFINED, CommandRunner
from core.tools.errors import ApprovalNeeded, ToolError
from core.tools.validate import validate_input
from core.tools.workspace import FileWrite, Workspace

__all__ = ["Authorize", "FileWrite", "Tool", "ToolContext", "ToolError", "ToolResult"]

# Async hook: may this command run? Returns (allowed, reason shown to the model when not).
Authorize = Callable[[str, str, str, str], Awaitable[tuple[bool, str]]]
# (agent_id, tool_name, command, cwd) -> (allowed, reason)


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False
    # What the engine records as evidence (exit code, HTTP status); never sent to the model.
    data: dict[str, Any] | None = field(default=None, compare=False)
    # The files this call wrote (path, bytes, sha256 before and after), for the record.
    writes: tuple[FileWrite, ...] = ()
    # The call waited on work going on elsewhere (wait_for_agents while agents ran):
    # the loop detector does not count it as a repeat even when its result is the same.
    progress: bool = False


@dataclass
class ToolContext:
    """What a tool call may use. One per agent; tools must not keep other state."""

    workspace: Path
    agent_id: str
    authorize: Authorize
    command_timeout_s: float = 120.0
    output_cap_bytes: int = 64_000
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_s: float = 20.0
    # web_fetch may reach loopback/private addresses (all, or these hosts / networks).
    fetch_allow_private: bool = False
    fetch_allow_hosts: tuple[str, ...] = ()
    # How commands run. The session always passes the runner it detected at start; the
    # default (no sandbox, environment still allow-listed) is for contexts built by hand.
    runner: CommandRunner = UNCONFINED
    extra: dict[str, Any] = field(default_factory=dict)
    # The workspace directory, opened once: file tools resolve every path beneath it, so
    # replacing the folder mid-run does not move them. A session shares one among its
    # agents; a context built without one opens its own here, at the agent's start.
    root: Workspace | None = None

    def __post_init__(self) -> None:
        if self.root is None:
            with contextlib.suppress(OSError):  # `files()` says why, if a tool needs it
                self.root = Workspace(self.workspace)

    def files(self) -> Workspace:
        """The pinned workspace (ToolError if it could not be opened)."""
        if self.root is None:
            try:
                self.root = Workspace(self.workspace)
            except OSError as exc:
                raise ToolError(
                    f"cannot open the workspace {self.workspace}: {exc.strerror or exc}"
                ) from None
        return self.root


class Tool(Protocol):
    name: str
    description: str
    input_schema: dict[str, Any]

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...

    def summary(self, args: dict[str, Any]) -> str:
        """One short line for the UI: 'write_file site/index.html'."""
        ...


def tool_spec(tool: Tool) -> dict[str, Any]:
    """The tool as the Messages API wants it."""
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


async def execute(tools: dict[str, Tool], name: str, args: Any, ctx: ToolContext) -> ToolResult:
    """Run one tool call; every failure becomes a tool error for the model, never an exception.

    The input is checked against the tool's schema first (`core.tools.validate`), so no
    tool ever sees a wrong type, a non-finite number or a value out of its range.

    Cancellation (kill, timeout, interrupt) still propagates.
    """
    tool = tools.get(name)
    if tool is None:
        return ToolResult(
            f"unknown tool {name!r}; available: {', '.join(sorted(tools))}", is_error=True
        )
    problem = validate_input(tool.input_schema, args)
    if problem:
        return ToolResult(f"invalid input for {name}: {problem}", is_error=True)
    try:
        return await tool.run(args, ctx)
    except ToolError as exc:
        return ToolResult(str(exc), is_error=True)
    except (asyncio.CancelledError, ApprovalNeeded):
        raise
    except Exception as exc:  # a tool bug must not take the agent down
        return ToolResult(f"{name} failed: {type(exc).__name__}: {exc}", is_error=True)
