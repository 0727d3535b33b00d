"""Resume: a run killed with SIGKILL reopens, and its interrupted agents can be retried."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from core.bus import EventBus
from core.config import Settings
from core.events import AgentFinished, RunFinished
from core.llm import make_client
from core.model_access import ModelAccess
from core.resume import INTERRUPTED_RESULT, open_resumed, repair_history
from core.store import Store
from tests.child_runs import wait_for_running_agents
from tests.fakeapi import DEFAULT_KEY, FakeAPI, RecordedRequest, Reply, tool_use_reply
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
            a for a in agents.values() if a.agent_id != "ceo" and a.state == "interrupted"
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
        assert again[target].state == "done"
        assert again[target].attempt == interrupted[0].attempt + 1
        # usage of the interrupted attempt is kept and the new one is added
        assert again[target].output_tokens > agents[target].output_tokens
    finally:
        await store.close()


async def test_resume_announces_interrupted_agents_and_a_waiting_loop_is_stopped(
    tmp_path: Path,
) -> None:
    """The reported loop: after a resume, a CEO that keeps calling wait_for_agents. It is
    told which agents were interrupted, each wait is an error listing the agents, and
    the loop detector stops it at 2N requests instead of hundreds."""
    db = tmp_path / "runs.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    argv = [
        sys.executable, "-m", "tui.cli", "run", "Summarise the notes", "--simulate", "--quiet",
        "--scenario", "load:agents=3,tps=40,seconds=60", "--db", str(db),
        "--workspace", str(workspace),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = await wait_for_running_agents(db, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    ceo_requests: list[RecordedRequest] = []

    def looping_ceo(request: RecordedRequest) -> Reply:
        ceo_requests.append(request)
        return tool_use_reply([("wait_for_agents", {})])

    store = await Store.open(db)
    try:
        async with FakeAPI(default=looping_ceo) as api:
            client = make_client(DEFAULT_KEY, api.base_url, max_retries=0)
            access = ModelAccess(client, simulated=False, describe="fake")
            bus = EventBus()
            bus.subscribe(store.append)
            rec = Recorder(bus)
            settings = Settings(workspace=workspace)
            session = await open_resumed(settings, store, run_id, bus=bus, access=access)
            interrupted = sorted(r.agent_id for r in session.agents() if r.state == "interrupted")
            assert len(interrupted) >= 2
            session.say("what is the status?")
            outcome = await asyncio.wait_for(session.wait_finished(), 30)
            await session.close()
        assert outcome.status == "failed"
        assert session.error.startswith("stuck: made the same wait_for_agents call 8 times")
        assert len(ceo_requests) == 8
        first = ceo_requests[0].messages[-1]["content"]
        texts = [b.get("text", "") for b in first if b.get("type") == "text"]
        assert texts[0].startswith("[system] This run was resumed")
        assert "retry_agent" in texts[0]
        for agent_id in interrupted:
            assert any(t.startswith(f"[agent {agent_id} finished: interrupted]") for t in texts)
        assert texts[-1] == "[operator] what is the status?"
        waited = ceo_requests[1].messages[-1]["content"][0]
        assert waited["is_error"] is True
        assert "nothing to wait for" in waited["content"]
        for agent_id in interrupted:
            assert f"{agent_id} interrupted" in waited["content"]
        finished = [e for e in rec.events if isinstance(e, RunFinished)]
        assert [f.status for f in finished] == ["failed"]
    finally:
        await store.close()
