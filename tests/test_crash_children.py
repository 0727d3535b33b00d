"""No process outlives the app: headless `delegate run` stopped by SIGINT or SIGTERM while an
agent's command runs, a normal exit, the TUI quitting with `q`, and a killed agent.

Every process the app starts carries a marker in its environment (tests/procscan.py), so
a grandchild re-parented to PID 1 is still found. Commands get an allow-listed environment,
so the config lets the marker through (`[sandbox] env`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.events import AgentStateChanged, Event
from core.sandbox import SandboxSettings
from tests.procscan import MARKER_VAR, marked, new_marker, wait_for
from tests.tui_support import live_app, sim_settings, wait_until
from tui.screens.confirm import ConfirmScreen

# The simulator only scripts commands that start with a harmless word (echo, ls, ...);
# what follows the `;` is what the app's own policy must judge (here: --yes / allow mode).
LONG = "echo start; sleep 61.5 & sleep 62.5"  # a shell with a background child: three
SHORT = "echo started; sleep 63.5 &"  # ends at once, leaving a background job behind


def scenario(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(
        'plan = "One agent runs the job."\n'
        'final = "The job ran."\n'
        "retry_failed = false\n"
        "tokens_per_s = 50000\n"
        "latency_s = 0.0\n"
        "[[agents]]\n"
        'role = "coding"\n'
        'task = "Run the long job in the workspace."\n'
        f"commands = [{json.dumps(command)}]\n"
        'report = "Ran it."\n'
    )
    return path


def _start(tmp_path: Path, command: str, marker: str) -> subprocess.Popen[str]:
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    argv = [sys.executable, "-m", "tui.cli", "run", "Run the job", "--simulate", "--yes"]
    argv += ["--json", "--scenario", str(scenario(tmp_path, command))]
    argv += ["--db", str(tmp_path / "runs.db"), "--workspace", str(workspace)]
    config = tmp_path / "config.toml"
    config.write_text(f'[sandbox]\nenv = ["{MARKER_VAR}"]\n')
    argv += ["--config", str(config)]
    env = {**os.environ, MARKER_VAR: marker}
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _sleepers(procs: dict[int, str]) -> list[str]:
    return [cmd for cmd in procs.values() if cmd.startswith("sleep ")]


def _finish(proc: subprocess.Popen[str], timeout_s: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_headless_run_leaves_no_process_on_sigint_sigterm_or_normal_exit(
    tmp_path: Path,
) -> None:
    """Three `delegate run` processes side by side (start-up is the slow part)."""
    runs: dict[str, tuple[str, subprocess.Popen[str]]] = {}
    for name, command in (("SIGINT", LONG), ("SIGTERM", LONG), ("exit", SHORT)):
        (tmp_path / name).mkdir()
        marker = new_marker()
        runs[name] = (marker, _start(tmp_path / name, command, marker))
    try:
        for name in ("SIGINT", "SIGTERM"):
            marker, proc = runs[name]
            # Upper bounds, not waits: three interpreters starting at once on a loaded
            # machine (load 11-13 took over 30 s) must not fail the test.
            wait_for(marker, lambda p: len(_sleepers(p)) == 2, timeout_s=120)
            proc.send_signal(getattr(signal, name))
        for name, (marker, proc) in runs.items():
            out, err = _finish(proc, 120)
            assert "Traceback" not in err, err
            summary = json.loads(out)
            if name == "exit":
                # No check in this scenario: answered, not verified, exit 1.
                assert proc.returncode == 1, err
                assert summary["status"] == "unverified" and len(summary["agents"]) == 2
                assert marked(marker) == {}  # the background `sleep` ended with its command
            else:
                assert proc.returncode == 130, err
                assert summary["status"] == "cancelled"
                assert summary["agents"][1]["status"] == "stopped"  # a clean stop, not a kill
                wait_for(marker, lambda p: not p, timeout_s=10.0)
    finally:
        for _, proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


async def test_tui_quit_with_q_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = new_marker()
    monkeypatch.setenv(MARKER_VAR, marker)  # inherited by every command the session runs
    settings = sim_settings(
        tmp_path,
        scenario=str(scenario(tmp_path, LONG)),
        permission_mode="allow",
        sandbox=SandboxSettings(env=(MARKER_VAR,)),
    )
    app, session = live_app(settings, "Run the job")
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: len(_sleepers(marked(marker))) == 2, timeout=20)
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)  # agents run: it asks once
        await pilot.press("y")
        await wait_until(pilot, lambda: session.finished, timeout=10)
    assert not app.is_running
    assert session.status == "stopped"
    wait_for(marker, lambda p: not p, timeout_s=1.0)


async def test_killed_agent_command_tree_is_gone_within_a_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the Session (what the TUI's kill key and the CEO's kill_agent call)."""
    marker = new_marker()
    monkeypatch.setenv(MARKER_VAR, marker)
    settings = sim_settings(
        tmp_path,
        scenario=str(scenario(tmp_path, LONG)),
        permission_mode="allow",
        sandbox=SandboxSettings(env=(MARKER_VAR,)),
    )
    app, session = live_app(settings, "Run the job")
    states: list[Event] = []
    session.bus.subscribe(states.append)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(pilot, lambda: len(_sleepers(marked(marker))) == 2, timeout=20)
        (agent,) = [a.agent_id for a in session.agents()]
        killed_at = time.monotonic()
        assert await session.kill(agent) == "killed"
        await wait_until(pilot, lambda: not marked(marker), timeout=1.0)
        assert time.monotonic() - killed_at < 1.0
        assert any(
            isinstance(e, AgentStateChanged) and e.agent_id == agent and e.state == "killed"
            for e in states
        )
        await app.close_session()
    wait_for(marker, lambda p: not p, timeout_s=1.0)
