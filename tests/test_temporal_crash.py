"""A worker killed with -9 mid-run: its command dies with it, and another worker finishes
the run, every agent's result reported once (the lost turn and command run again)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.events import Event, TurnStarted
from core.runner import AttemptHooks, AttemptOutcome, AttemptSpec
from core.sandbox import SandboxSettings
from tests.scripted import ScriptedModel
from tests.temporal_child_worker import script
from tests.temporal_support import NoLocal, temporal_address, unique_prefix

__all__ = ["temporal_address"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def session_runner(temporal_address: str, tmp_path: Path) -> AsyncIterator[Any]:
    """A session's runner with no worker of its own (the workers are the test's)."""
    from core.temporal.runner import TemporalOptions, TemporalRunner

    events: list[Event] = []
    changed = asyncio.Event()

    def emit(event: Event) -> None:
        events.append(event)
        changed.set()

    prefix = unique_prefix()
    runner = TemporalRunner(
        settings=Settings(
            workspace=tmp_path, permission_mode="allow", sandbox=SandboxSettings(mode="off")
        ),
        emit=emit,
        local=NoLocal(),  # type: ignore[arg-type]
        client=None,  # type: ignore[arg-type]  # the workers have their own models
        options=TemporalOptions(
            address=temporal_address, local_worker=False, queue=prefix + "ws", id_prefix=prefix
        ),
    )
    runner.test_events = events  # type: ignore[attr-defined]
    runner.test_changed = changed  # type: ignore[attr-defined]
    yield runner
    await runner.aclose()


async def _until(runner: Any, predicate: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate(runner.test_events):
        remaining = deadline - time.monotonic()
        assert remaining > 0, "timed out waiting for the worker's events"
        runner.test_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runner.test_changed.wait(), remaining)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


async def _pids(files: list[Path], timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while not all(p.exists() and p.read_text().strip() for p in files):
        assert time.monotonic() < deadline, "the command did not start"
        await asyncio.sleep(0.02)
    return [int(p.read_text()) for p in files]


async def test_a_worker_killed_with_9_mid_run_leaves_no_command_and_the_run_completes(
    session_runner: Any, temporal_address: str, tmp_path: Path
) -> None:
    from temporalio.client import Client

    from core.temporal.worker import WorkerGroup, build_workers, make_host

    argv = [
        sys.executable, "-m", "tests.temporal_child_worker",
        temporal_address, str(tmp_path), session_runner.queue,
    ]  # fmt: skip
    worker = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=-1)
    replacement: WorkerGroup | None = None
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == b"ready"
        ends: list[tuple[str, AttemptOutcome]] = []
        tasks = {"coding-1": "command", "coding-2": "slow two", "coding-3": "slow three"}
        attempts = [
            session_runner.start(
                AttemptSpec(
                    run_id="run",
                    agent_id=agent_id,
                    role="coding",
                    model="claude-haiku-5-5",
                    attempt=1,
                    first_message=task,
                ),
                AttemptHooks(lambda o, a=agent_id: ends.append((a, o))),
            )
            for agent_id, task in tasks.items()
        ]
        pids = await _pids([tmp_path / "shell.pid", tmp_path / "child.pid"], 30)
        await _until(
            session_runner,
            lambda evs: {e.agent_id for e in evs if isinstance(e, TurnStarted)} >= set(tasks),
            10,
        )
        assert all(_alive(p) for p in pids)

        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids):  # the command died with its worker
            assert time.monotonic() < deadline, f"still running after the worker died: {pids}"
            await asyncio.sleep(0.02)

        client = await Client.connect(temporal_address)
        settings = Settings(workspace=tmp_path, sandbox=SandboxSettings(mode="off"))
        model = ScriptedModel(script)
        host = make_host(settings, model, tmp_path, tmp_path / "conversations")  # type: ignore[arg-type]
        replacement = WorkerGroup(build_workers(client, host, session_runner.queue), host)
        replacement.start()
        outcomes = await asyncio.wait_for(asyncio.gather(*(a.wait() for a in attempts)), 60)
        assert [(o.state, o.result) for o in outcomes] == [
            ("done", f"result of {task}") for task in tasks.values()
        ]
        assert sorted(a for a, _ in ends) == sorted(tasks)  # each agent's end, once
        # What ran on the dead worker ran again here (activities are at least once).
        assert (tmp_path / "ran.once").exists()
        assert any("again" in str(r.messages) for r in model.requests)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(10)
        if worker.stdout is not None:
            worker.stdout.close()
        if replacement is not None:
            await replacement.stop()
