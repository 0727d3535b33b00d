"""Every process a sandboxed command starts dies with it: 100 background children and a
`setsid` daemon are gone when the agent is killed, and when the command itself ends. The
rlimits hold: a file past the size limit and memory past the data limit are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.sandbox import SandboxSettings
from tests.procscan import MARKER_VAR, marked, new_marker, wait_for
from tests.sandbox_support import AgentRun, agent_run, layout, needs_sandbox, settings_for

pytestmark = needs_sandbox

FORKS = (
    "for i in $(seq 100); do sleep 311 & done; setsid sleep 312 & "
    "setsid sh -c 'sleep 313 & wait' & echo forked; wait"
)


def _sleepers(procs: dict[int, str]) -> list[str]:
    return [cmd for cmd in procs.values() if cmd.startswith("sleep 31")]


async def test_killed_agent_takes_every_process_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = new_marker()
    monkeypatch.setenv(MARKER_VAR, marker)
    ws, _ = layout(tmp_path)
    settings = settings_for(ws, assume_yes=True, sandbox=SandboxSettings(env=(MARKER_VAR,)))
    killed: dict[str, float] = {}

    async def started(run: AgentRun) -> bool:
        if len(_sleepers(marked(marker))) < 102:
            return False
        killed["at"] = time.monotonic()
        assert await run.session.kill("coding-1") == "killed"
        return True

    await agent_run(settings, [("run_command", {"command": FORKS})], until=started)
    wait_for(marker, lambda p: not p, timeout_s=1.0)
    assert time.monotonic() - killed["at"] < 1.5
    assert marked(marker) == {}


async def test_setsid_daemon_dies_when_its_command_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = new_marker()
    monkeypatch.setenv(MARKER_VAR, marker)
    ws, _ = layout(tmp_path)
    settings = settings_for(ws, assume_yes=True, sandbox=SandboxSettings(env=(MARKER_VAR,)))
    command = "setsid sleep 314 & setsid nohup sleep 315 > /dev/null 2>&1 & echo left"
    run = await agent_run(settings, [("run_command", {"command": command})])
    assert "left" in run.outputs()[0]
    assert run.session.finished
    wait_for(marker, lambda p: not p, timeout_s=2.0)


async def test_rlimits_hold(tmp_path: Path) -> None:
    ws, _ = layout(tmp_path)
    settings = settings_for(
        ws,
        assume_yes=True,
        sandbox=SandboxSettings(max_file_mb=1, max_memory_mb=200),
    )
    run = await agent_run(
        settings,
        [
            ("run_command", {"command": "head -c 3000000 /dev/zero > big.bin"}),
            ("run_command", {"command": "python3 -c 'b = bytearray(400 * 1024 * 1024)'"}),
            ("run_command", {"command": "python3 -c 'b = bytearray(50 * 1024 * 1024); print(1)'"}),
        ],
    )
    big, huge, small = run.outputs()
    assert "exit code 0" not in big
    assert (ws / "big.bin").stat().st_size <= 1024 * 1024
    assert "MemoryError" in huge
    assert small.startswith("exit code 0")


CHILD = """
import asyncio, sys
from pathlib import Path
from core.sandbox import SandboxSettings, detect_runner
from core.tools.shell import run_shell

async def main() -> None:
    ws = Path(sys.argv[1])
    runner = detect_runner(SandboxSettings(env=("{var}",)), ws)
    assert runner.confined
    await run_shell("setsid sleep 316 & sleep 317", ws, 60, 1000, runner)

asyncio.run(main())
"""


def test_kill_9_of_the_app_takes_the_sandbox_with_it(tmp_path: Path) -> None:
    """--die-with-parent: even a `kill -9` of the app ends a running sandboxed command."""
    marker = new_marker()
    ws, _ = layout(tmp_path)
    env = {**os.environ, MARKER_VAR: marker}
    script = CHILD.replace("{var}", MARKER_VAR)
    app = subprocess.Popen([sys.executable, "-c", script, str(ws)], env=env)
    try:
        wait_for(marker, lambda p: len([c for c in p.values() if c.startswith("sleep 31")]) == 2)
        app.send_signal(signal.SIGKILL)
        app.wait(10)
        wait_for(marker, lambda p: not p, timeout_s=2.0)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
