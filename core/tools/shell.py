"""Running shell commands: `run_shell` (shared with the CEO's run_check) and `run_command`.

A command runs as `/bin/sh -c` through the run's sandbox runner (core.sandbox: bubblewrap
where it can start, an allow-listed environment always), in its own process group, with
a timeout and a byte cap on its output: bytes beyond the cap are dropped as they arrive
(a head and a tail are kept), so a command printing 100 MB costs no memory. When the
command ends, times out or is cancelled (agent killed), the whole group is stopped:
SIGTERM, then SIGKILL after a short grace, so no background process outlives the
command; in the sandbox its PID namespace dies with it, `setsid` daemons included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.sandbox import UNCONFINED, CommandRunner
from core.tools.base import ToolContext, ToolError, ToolResult
from core.tools.workspace import workspace_root

MAX_COMMAND_TIMEOUT_S = 600.0
KILL_GRACE_S = 0.3
PIPE_CLOSE_WAIT_S = 1.0


@dataclass(frozen=True)
class CommandResult:
    """What a command did. The `*_tail` texts are capped: head, a cut marker, then the tail."""

    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    timed_out: bool
    truncated: bool
    bytes_cut: int = 0
    elapsed_s: float = 0.0


class _CappedBuffer:
    """Keeps the first `head_cap` bytes and the last `tail_cap` bytes; counts the rest."""

    def __init__(self, cap: int) -> None:
        self.head_cap = max(cap // 2, 1)
        self.tail_cap = max(cap, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            excess = len(self.tail) - self.tail_cap
            if excess > 0:
                del self.tail[:excess]
                self.dropped += excess

    def render(self, budget: int) -> tuple[str, int]:
        """The kept text within `budget` bytes, and how many bytes were cut."""
        if self.dropped == 0:
            data = bytes(self.head + self.tail)
            if len(data) <= budget:
                return _decode(data), 0
            prefix = suffix = data
        else:
            prefix, suffix = bytes(self.head), bytes(self.tail)
        keep_head = budget // 3
        keep_tail = budget - keep_head
        shown_head = prefix[:keep_head]
        shown_tail = suffix[len(suffix) - keep_tail :] if keep_tail else b""
        cut = self.total - len(shown_head) - len(shown_tail)
        text = f"{_decode(shown_head)}\n[... {cut} bytes cut ...]\n{_decode(shown_tail)}"
        return text, cut


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _budgets(out: int, err: int, cap: int) -> tuple[int, int]:
    """Split `cap` bytes between stdout and stderr; a short stream leaves room to the other."""
    if out + err <= cap:
        return out, err
    half = cap // 2
    if out < half:
        return out, cap - out
    if err < half:
        return cap - err, err
    return half, cap - half


class _Capture(asyncio.SubprocessProtocol):
    """Feeds pipe data into capped buffers; futures for 'shell exited' and 'all closed'."""

    def __init__(self, cap: int, loop: asyncio.AbstractEventLoop) -> None:
        self.buffers = {1: _CappedBuffer(cap), 2: _CappedBuffer(cap)}
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        buf = self.buffers.get(fd)
        if buf is not None:
            buf.feed(data.encode() if isinstance(data, str) else data)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to the process group; False when the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


async def _stop_group(pgid: int, capture: _Capture) -> None:
    """SIGTERM the group, give it a short grace to exit, then SIGKILL whatever is left.

    SIGKILL is sent even if this coroutine is cancelled again while it waits.
    """
    try:
        if _signal_group(pgid, signal.SIGTERM):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(capture.closed), KILL_GRACE_S)
    finally:
        _signal_group(pgid, signal.SIGKILL)


async def _shutdown(transport: asyncio.SubprocessTransport, capture: _Capture) -> None:
    """After a cancel: stop the group, wait (briefly) for the shell to be reaped, close."""
    try:
        await _stop_group(transport.get_pid(), capture)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(capture.exited), PIPE_CLOSE_WAIT_S)
    finally:
        transport.close()


def _kill_spawned(spawn: asyncio.Future[tuple[asyncio.SubprocessTransport, _Capture]]) -> None:
    """Last resort when cancelled twice while spawning: SIGKILL the group once it exists."""
    if spawn.cancelled() or spawn.exception() is not None:
        return
    transport = spawn.result()[0]
    _signal_group(transport.get_pid(), signal.SIGKILL)
    transport.close()


def _check_pinned(path: Path, fd: int) -> None:
    """ToolError when `path` no longer names the directory held open as `fd`."""
    try:
        now = os.stat(path)
    except OSError:
        now = None
    held = os.fstat(fd)
    if now is None or (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
        raise ToolError(
            f"refused: the workspace folder {path} was moved or replaced since the run "
            "started; commands run only in the workspace the run opened"
        )


async def run_shell(
    command: str,
    cwd: Path,
    timeout_s: float,
    output_cap: int,
    runner: CommandRunner = UNCONFINED,
    workspace: Path | None = None,
    workspace_fd: int | None = None,
) -> CommandResult:
    """Run `command` with `/bin/sh -c` in `cwd`, through `runner` (which confines it to
    `workspace`, default `cwd`); stdout and stderr are captured separately.

    `workspace_fd` is the pinned workspace directory (opened at the run's start): the
    sandbox binds that directory, not whatever the path names now, and an unconfined
    command is refused when the path no longer names it (the folder was replaced).

    Cancellation stops the whole process group, waits for the shell to be reaped, then
    re-raises. The group is also stopped when the shell exits, so background jobs end too.
    """
    pass_fds: tuple[int, ...] = ()
    host_cwd = str(cwd)
    if workspace_fd is not None and runner.confined:
        pass_fds, host_cwd = (workspace_fd,), "/"  # bwrap changes to `cwd` inside
    elif workspace_fd is not None:
        _check_pinned(workspace or cwd, workspace_fd)
    pinned = pass_fds[0] if pass_fds else None
    argv = runner.argv(command, cwd, workspace or cwd, pinned_fd=pinned)
    loop = asyncio.get_running_loop()
    capture = _Capture(output_cap, loop)
    started = time.monotonic()
    # Spawning is shielded: a cancel inside subprocess_exec would make asyncio kill only the
    # shell and then wait for its pipes, which the grandchildren hold open.
    spawn = asyncio.ensure_future(
        loop.subprocess_exec(
            lambda: capture,
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=host_cwd,
            env=runner.env(),
            start_new_session=True,
            pass_fds=pass_fds,
        )
    )
    try:
        transport, _ = await asyncio.shield(spawn)
    except asyncio.CancelledError:
        try:
            transport, _ = await asyncio.shield(spawn)
        except BaseException:
            spawn.add_done_callback(_kill_spawned)
            raise asyncio.CancelledError from None
        await _shutdown(transport, capture)
        raise
    timed_out = False
    try:
        try:
            await asyncio.wait_for(asyncio.shield(capture.exited), timeout_s)
        except TimeoutError:
            timed_out = True
        await _stop_group(transport.get_pid(), capture)
        # Processes that left the group could still hold the pipes: do not wait forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(capture.closed), PIPE_CLOSE_WAIT_S)
    except asyncio.CancelledError:
        await _shutdown(transport, capture)
        raise
    transport.close()
    exit_code = transport.get_returncode()
    out, err = capture.buffers[1], capture.buffers[2]
    out_budget, err_budget = _budgets(out.total, err.total, output_cap)
    stdout, out_cut = out.render(out_budget)
    stderr, err_cut = err.render(err_budget)
    return CommandResult(
        exit_code=exit_code,
        stdout_tail=stdout,
        stderr_tail=stderr,
        timed_out=timed_out,
        truncated=bool(out_cut or err_cut),
        bytes_cut=out_cut + err_cut,
        elapsed_s=time.monotonic() - started,
    )


def command_timeout(requested: float | None, default_s: float) -> float:
    """The timeout to use: the requested one (or the default), capped."""
    if requested is None:
        return default_s
    if requested <= 0:
        raise ToolError(f"timeout_s must be positive, got {requested}")
    return min(float(requested), max(default_s, MAX_COMMAND_TIMEOUT_S))


def format_result(result: CommandResult, timeout_s: float) -> str:
    """The text the model reads: status line, then stdout and stderr sections."""
    if result.timed_out:
        head = f"timed out after {timeout_s:g} s; the command and its processes were stopped"
    else:
        head = f"exit code {result.exit_code} ({result.elapsed_s:.1f} s)"
    parts = [head]
    if result.stdout_tail:
        parts.append(f"--- stdout ---\n{result.stdout_tail.rstrip()}")
    if result.stderr_tail:
        parts.append(f"--- stderr ---\n{result.stderr_tail.rstrip()}")
    if not result.stdout_tail and not result.stderr_tail:
        parts.append("(no output)")
    if result.truncated:
        parts.append(f"[output capped: {result.bytes_cut} bytes cut]")
    return "\n".join(parts)


class RunCommand:
    name = "run_command"
    description = (
        "Run a shell command (/bin/sh -c) in the workspace directory and return its exit "
        "code and output (capped). Commands may need the operator's approval. Background "
        "processes are stopped when the command ends. Optional `timeout_s`."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The shell command."},
                "timeout_s": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_COMMAND_TIMEOUT_S,
                    "description": f"Seconds before it is stopped (max {MAX_COMMAND_TIMEOUT_S:g}).",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        text = " ".join(str(args.get("command", "")).split())
        return f"$ {text if len(text) <= 80 else text[:79] + '…'}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command: str = args["command"]
        if not command.strip():
            raise ToolError("command is empty")
        timeout_s = command_timeout(args.get("timeout_s"), ctx.command_timeout_s)
        # The path the workspace had when the run opened it, not what it names now.
        cwd = ctx.root.path if ctx.root is not None else workspace_root(ctx.workspace)
        allowed, reason = await ctx.authorize(ctx.agent_id, self.name, command, str(cwd))
        if not allowed:
            return ToolResult(reason or "command not allowed", is_error=True)
        result = await run_shell(
            command,
            cwd,
            timeout_s,
            ctx.output_cap_bytes,
            ctx.runner,
            workspace=cwd,
            workspace_fd=ctx.root.fd if ctx.root is not None else None,
        )
        failed = result.timed_out or result.exit_code != 0
        data = {
            "exit_code": result.exit_code,
            "timed_out": result.timed_out,
            "duration_s": round(result.elapsed_s, 3),
        }
        return ToolResult(format_result(result, timeout_s), is_error=failed, data=data)
