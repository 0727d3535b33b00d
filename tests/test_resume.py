"""Resume: a run killed with SIGKILL reopens, and its interrupted agents can be retried."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from core.bus import EventBus
from core.config import Settings
from core.events import AgentFinished
from core.resume import INTERRUPTED_RESULT, open_resumed, repair_history
from core.store import Store
from tests.child_runs import wait_for_running_agents
from tests.scripted import Recorder


def test_repair_answers_tool_calls_cut_by_a_crash() -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "wait_for_agents", "input": {}}
    history = [
        {"role": "user", "content": [{"type": "text", "text": "task"}]},
        {"role": "assistant", "content": [call]},
    ]
    repaired = repair_history(history)
    assert repaired[-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": INTERRUPTED_RESULT,
                "is_error": True,
            }
        ],
    }
    whole = [
        *history,
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "{}"}],
        },
    ]
    assert repair_history(whole) == whole


async def test_kill_9_then_resume_and_retry(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    argv = [
        sys.executable,
        "-m",
        "tui.cli",
        "run",
        "Summarise the notes",
        "--simulate",
        "--quiet",
        "--scenario",
        "load:agents=3,tps=40,seconds=60",
        "--db",
        str(db),
        "--workspace",
        str(workspace),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = await wait_for_running_agents(db, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    store = await Store.open(db)
    try:
        row = await store.find_run("last")
        assert row is not None and row.run_id == run_id and row.status == "interrupted"
        agents = {a.agent_id: a for a in await store.agents(run_id)}
        interrupted = [
            a for a in agents.values() if a.agent_id != "ceo" and a.status == "interrupted"
        ]
        assert len(interrupted) >= 2

        settings = Settings(simulate=True, sim_tokens_per_s=50000, workspace=workspace)
        bus = EventBus()
        bus.subscribe(store.append)
        rec = Recorder(bus)
        session = await open_resumed(settings, store, run_id, bus=bus)
        assert rec.events[0].kind == "run_started"
        target = interrupted[0].agent_id
        assert session.retry(target, note="Finish quickly.") == interrupted[0].attempt + 1
        done = await rec.wait_for(
            lambda e: isinstance(e, AgentFinished) and e.agent_id == target, timeout_s=30
        )
        assert isinstance(done, AgentFinished) and done.state == "done"
        await session.close()
        await store.flush()
        again = {a.agent_id: a for a in await store.agents(run_id)}
        assert again[target].status == "done"
        assert again[target].attempt == interrupted[0].attempt + 1
        # usage of the interrupted attempt is kept and the new one is added
        assert again[target].output_tokens > agents[target].output_tokens
    finally:
        await store.close()
