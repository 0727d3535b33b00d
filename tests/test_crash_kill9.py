"""`kill -9` of `delegate run` mid-run, then the CLI: `history` and `show` report the run as
interrupted with its agents, events reach up to about a second before the kill, and
`delegate resume RUN` opens a session in which an interrupted agent is retried to the end."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.store import Store
from tests.child_runs import wait_for_running_agents
from tests.tui_support import wait_until
from tui.app import DelegateApp
from tui.cli import main

SLOW = "load:agents=3,tps=40,seconds=60"


async def _events(db: Path, run_id: str) -> list[Any]:
    store = await Store.open_readonly(db)
    try:
        return await store.events(run_id)
    finally:
        await store.close()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text("[simulator]\ntokens_per_s = 50000\n")
    return path


def test_kill_9_then_history_show_and_resume(
    tmp_path: Path,
    config: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = tmp_path / "runs.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    common = ["--db", str(db), "--workspace", str(workspace)]
    argv = [sys.executable, "-m", "tui.cli", "run", "Summarise the notes", "--simulate"]
    proc = subprocess.Popen(
        [*argv, "--quiet", "--scenario", SLOW, *common],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = asyncio.run(wait_for_running_agents(db, proc, streamed=True))
    finally:
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # `delegate history` (the real command, in a new process) opens the file cleanly
    # and lists the run as interrupted with its agents.
    history = subprocess.run(
        [sys.executable, "-m", "tui.cli", "history", "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert history.returncode == 0, history.stderr
    (run,) = json.loads(history.stdout)
    assert run["run_id"] == run_id and run["status"] == "interrupted"
    assert run["agents"] >= 3

    assert main(["show", run_id, "--json", *common]) == 0
    shown = json.loads(capsys.readouterr().out)
    agents = {a["id"]: a for a in shown["agents"]}
    interrupted = [a for a in agents.values() if a["status"] == "interrupted" and a["id"] != "ceo"]
    assert len(interrupted) >= 2
    assert all(a["output_tokens"] > 0 for a in interrupted)

    # Events are stored up to at most about a second before the kill. (The interruption
    # events the recovery wrote afterwards carry later timestamps.)
    events = asyncio.run(_events(db, run_id))
    before_kill = [e.ts for e in events if e.ts <= killed_at]
    assert killed_at - max(before_kill) < 1.0
    assert {e.agent_id for e in events} >= {a["id"] for a in interrupted}
    assert events[-1].kind == "run_finished"

    # `delegate resume RUN`: the TUI on the reopened run; the driver retries one agent.
    target = interrupted[0]["id"]
    seen: dict[str, object] = {}

    async def drive(self: DelegateApp, *args: object, **kwargs: object) -> None:
        async with self.run_test(size=(160, 48)) as pilot:
            assert self.session is not None
            await wait_until(pilot, lambda: target in self.view.agents)
            seen["state_before"] = self.view.agents[target].state
            seen["attempt"] = self.session.retry(target, note="Finish quickly.")
            await wait_until(pilot, lambda: self.view.agents[target].state == "done", timeout=30)

    monkeypatch.setattr(DelegateApp, "run_async", drive)
    assert main(["resume", run_id, "--config", str(config), *common]) == 0
    assert f"delegate: run {run_id} " in capsys.readouterr().out  # the exit message
    assert seen["state_before"] == "interrupted"
    assert seen["attempt"] == interrupted[0]["attempt"] + 1

    assert main(["show", run_id, "--json", *common]) == 0
    again = {a["id"]: a for a in json.loads(capsys.readouterr().out)["agents"]}
    assert again[target]["status"] == "done"
    assert again[target]["attempt"] == interrupted[0]["attempt"] + 1
    assert again[target]["output_tokens"] > interrupted[0]["output_tokens"]
