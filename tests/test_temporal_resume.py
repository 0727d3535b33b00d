"""Resume on Temporal: the app running a run is killed with -9; its agents run on, on
their worker; the reopened run reattaches to them and sees them finish, with every event
of the turns that were streaming at the kill (stored once)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.bus import EventBus
from core.config import Settings
from core.events import AgentFinished, AgentStateChanged, MessageAppended, TextDelta, TurnEnded
from core.llm import TurnRequest, TurnResult, TurnSink
from core.resume import open_resumed
from core.store import Store
from tests.child_runs import wait_for_running_agents
from tests.scripted import Recorder, ScriptedModel, first_text, text
from tests.temporal_support import temporal_address, unique_prefix

__all__ = ["temporal_address"]

ROOT = Path(__file__).resolve().parent.parent


async def test_a_resumed_run_reattaches_to_agents_that_ran_on(
    temporal_address: str, tmp_path: Path
) -> None:
    from temporalio.client import Client

    from core.temporal.worker import WorkerGroup, build_workers, make_host

    workspace = tmp_path / f"ws-{unique_prefix().rstrip('-')}"  # its own task queue
    workspace.mkdir()
    db = tmp_path / "runs.db"
    release = asyncio.Event()

    async def held(request: TurnRequest, sink: TurnSink) -> TurnResult:
        sink.on_text("working on it")
        await release.wait()  # until the app that started it is dead and resumed
        sink.on_text(" and done")  # the in-flight turn streams on: the new session sees it
        return text(f"report on {first_text(request)[:20]}")

    settings = Settings(workspace=workspace, simulate=True, assume_yes=True)
    host = make_host(settings, ScriptedModel(held), workspace, tmp_path / "conv")  # type: ignore[arg-type]
    client = await Client.connect(temporal_address)
    worker = WorkerGroup(build_workers(client, host, workspace.name), host)
    worker.start()
    argv = [
        sys.executable, "-m", "tui.cli", "run", "Summarise the notes", "--simulate",
        "--quiet", "--yes", "--db", str(db), "--workspace", str(workspace),
        "--scenario", "load:agents=3,tps=40,seconds=60",
        "--runner", "temporal", "--temporal", temporal_address,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        try:
            run_id = await wait_for_running_agents(db, proc, streamed=True)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        store = await Store.open(db)
        try:
            bus = EventBus()
            bus.subscribe(store.append)
            rec = Recorder(bus)
            resumed = settings.with_overrides(runner="temporal", temporal_address=temporal_address)
            session = await open_resumed(resumed, store, run_id, bus=bus)
            cost_at_resume = session.total_cost()
            assert cost_at_resume is not None
            live = [r for r in session.agents() if r.state == "running"]
            assert len(live) >= 2, [(r.agent_id, r.state) for r in session.agents()]
            assert not [r for r in session.agents() if r.state == "interrupted"]
            release.set()
            await session.supervisor.wait([r.agent_id for r in live], timeout_s=30)
            assert [r.state for r in live] == ["done"] * len(live)
            assert all(r.result.startswith("report on") for r in live)
            ended = {e.agent_id for e in rec.of(AgentFinished) if e.agent_id != "ceo"}
            assert {r.agent_id for r in live} <= ended
            assert not [e for e in rec.of(AgentStateChanged) if e.state == "interrupted"]
            # The turn in flight at the kill: what it streamed after reached the resumed
            # session (its old hub died with the app), and the store has each event once.
            for r in live:
                await rec.wait_for(
                    lambda e, a=r.agent_id: (
                        isinstance(e, MessageAppended) and e.agent_id == a and e.role == "assistant"
                    ),
                    timeout_s=15,
                )
            # The run's budget counts what this session spent, no more and no less: the
            # reattached attempts' spend from here on, none of what they spent before
            # (total_cost rounds to the micro-dollar).
            cost_now = session.total_cost()
            assert cost_now is not None and cost_now > cost_at_resume
            spent_here = cost_now - cost_at_resume
            assert session.budget.ledger.spent_usd == pytest.approx(spent_here, abs=2e-6)
            await session.close()
            # The store commits what it was handed every ~50 ms and reads see only what
            # is committed: the turn's tail came over the hub just before this point.
            await store.flush()
            stored = await store.events(run_id)
            for r in live:
                deltas = [
                    e for e in stored if isinstance(e, TextDelta) and e.agent_id == r.agent_id
                ]
                assert "".join(e.text for e in deltas) == "working on it and done"
                replies = [
                    e
                    for e in stored
                    if isinstance(e, MessageAppended)
                    and e.agent_id == r.agent_id
                    and e.role == "assistant"
                ]
                assert [b["text"].strip() for e in replies for b in e.content] == [r.result]
                ended = [e for e in stored if isinstance(e, TurnEnded) and e.agent_id == r.agent_id]
                assert [e.turn for e in ended] == [1]
        finally:
            await store.close()
    finally:
        release.set()
        await worker.stop()
