"""The Supervisor's whole suite again, its attempts on Temporal (core.temporal): each a
child workflow of the run's workflow on a dev server, turns and tool calls activities
of a worker, live events back over the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import Emit
from core.config import Settings
from core.events import TextDelta
from core.llm import TurnRequest, TurnResult, TurnSink
from core.sandbox import SandboxSettings
from tests import scripted
from tests.scripted import ScriptedFactory, ScriptedModel, first_text, make_supervisor, text
from tests.temporal_support import NoLocal, conversations, temporal_address, unique_prefix
from tests.test_supervisor import *  # noqa: F403  (every test there runs here again)

__all__ = ["temporal_address"]


@pytest.fixture(autouse=True)
async def on_temporal(
    monkeypatch: pytest.MonkeyPatch, temporal_address: str, tmp_path: Path
) -> AsyncIterator[list[Any]]:
    """Every make_supervisor in this module runs its attempts on a TemporalRunner."""
    from core.temporal.runner import AgentShape, TemporalOptions, TemporalRunner

    made: list[Any] = []

    def temporal_runner(make_agent: ScriptedFactory, emit: Emit, model: ScriptedModel) -> Any:
        # The same agent as make_supervisor's local one: its prompt, tools, no sandbox.
        runner = TemporalRunner(
            settings=Settings(
                workspace=tmp_path, permission_mode="allow", sandbox=SandboxSettings(mode="off")
            ),
            emit=emit,
            local=NoLocal(),  # type: ignore[arg-type]
            client=model,  # type: ignore[arg-type]
            options=TemporalOptions(
                address=temporal_address,
                local_worker=True,
                conversations=conversations(tmp_path),
                id_prefix=unique_prefix(),
            ),
            shape=lambda spec: AgentShape(
                f"You are a {spec.role} sub-agent.", ("read_file", "list_files", "run_command")
            ),
        )
        made.append(runner)
        return runner

    monkeypatch.setitem(scripted.RUNNERS, "temporal", temporal_runner)
    monkeypatch.setattr(scripted, "DEFAULT_RUNNER", "temporal")
    yield made
    for runner in made:
        await runner.aclose()


async def test_parallel_spawn_is_parallel(tmp_path: Path) -> None:
    """Here in place of the suite's own (3 one-second agents in under 2 s of wall time):
    a workflow start costs 0.1-1.5 s on a loaded machine, so this asserts what parallel
    means instead: all three replies are in flight at once (each waits for the others)."""
    began: list[str] = []
    all_in = asyncio.Event()

    async def together(request: TurnRequest, sink: TurnSink) -> TurnResult:
        began.append(first_text(request))
        if len(began) == 3:
            all_in.set()
        await asyncio.wait_for(all_in.wait(), 20)  # one at a time would never get here
        return text("finished")

    sup, _, _ = make_supervisor(ScriptedModel(together), tmp_path)
    records = [sup.spawn("coding", f"task {i}", "claude-haiku-5-5", None) for i in range(3)]
    await sup.wait([r.agent_id for r in records], timeout_s=30)
    assert [r.state for r in records] == ["done"] * 3
    assert sorted(began) == ["task 0", "task 1", "task 2"]


async def test_attempts_here_are_workflows(tmp_path: Path, on_temporal: list[Any]) -> None:
    async def one(request: TurnRequest, sink: TurnSink) -> TurnResult:
        sink.on_text("working")
        return text("done")

    sup, _, rec = make_supervisor(ScriptedModel(one), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", None)
    await sup.wait([record.agent_id], timeout_s=20)
    assert record.state == "done" and record.result == "done"
    assert rec.of(TextDelta)  # streamed text came over the hub
    runner = on_temporal[0]
    handle = runner.runs["run-test"]
    for _ in range(100):  # the session tells the run workflow the attempt ended, by a signal
        attempts = await handle.query("list_attempts")
        if [a["state"] for a in attempts] == ["done"]:
            break
        await asyncio.sleep(0.05)
    assert [(a["agent_id"], a["attempt"], a["state"]) for a in attempts] == [
        (record.agent_id, 1, "done")
    ]


async def test_the_run_record_takes_a_burst_in_one_signal(
    tmp_path: Path, on_temporal: list[Any]
) -> None:
    """Attempts that start or end together reach the run workflow's record in one signal
    (a signal each was 40 server writes and RPCs in a 20-agent burst)."""
    from core.temporal.types import AttemptEnd, AttemptInfo

    async def one(request: TurnRequest, sink: TurnSink) -> TurnResult:
        return text("done")

    sup, _, _ = make_supervisor(ScriptedModel(one), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", None)
    await sup.wait([record.agent_id], timeout_s=20)
    runner = on_temporal[0]
    handle = runner.runs["run-test"]
    for i in range(5):  # five at once, each one started and ended
        runner.record("run-test", started=AttemptInfo(f"w{i}", f"a{i}", 1, "coding"))
    for i in range(5):
        runner.record("run-test", ended=AttemptEnd(f"w{i}", "done"))
    for _ in range(200):
        attempts = await handle.query("list_attempts")
        if sum(a["state"] == "done" for a in attempts) == 6:
            break
        await asyncio.sleep(0.05)
    assert sorted(
        (a["agent_id"], a["state"]) for a in attempts if a["agent_id"] != record.agent_id
    ) == [(f"a{i}", "done") for i in range(5)]
    history = await handle.fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert {s.signal_name for s in signals} == {"record"}
    burst = [s.input.SerializeToString() for s in signals if b'"w0"' in s.input.SerializeToString()]
    assert len(burst) == 1 and all(f'"w{i}"'.encode() in burst[0] for i in range(5))


def _as_before_ends_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Attempts start as sessions did before `ends_told` (their workflows ask `patched`)."""
    from core.temporal.runner import TemporalRunner

    made = TemporalRunner.attempt_input

    def before(self: TemporalRunner, spec: Any) -> Any:
        inp = made(self, spec)
        inp.ends_told = False
        return inp

    monkeypatch.setattr(TemporalRunner, "attempt_input", before)


@pytest.mark.parametrize("told", [True, False], ids=["ends-told", "patch-marker"])
async def test_an_attempts_history_replays_on_this_code(
    tmp_path: Path, on_temporal: list[Any], monkeypatch: pytest.MonkeyPatch, told: bool
) -> None:
    """The workflows are deterministic: an ended attempt's history, and its run's, replay
    on the workflow code without a nondeterminism error (a change of what they do needs
    `workflow.patched` or a field of the input, as the attempt's end signal has). An
    attempt of this session's says in its input that the session tells its end: no patch
    marker, no search attribute upsert; one from before asked `patched` (a marker)."""
    from temporalio.worker import Replayer

    from core.temporal.types import attempt_workflow_id, run_workflow_id
    from core.temporal.workflows import ENDS_TOLD_BY_SESSION, AttemptWorkflow, RunWorkflow

    async def one(request: TurnRequest, sink: TurnSink) -> TurnResult:
        sink.on_text("working")
        return text("done")

    if not told:
        _as_before_ends_told(monkeypatch)
    sup, _, _ = make_supervisor(ScriptedModel(one), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", None)
    await sup.wait([record.agent_id], timeout_s=20)
    assert record.state == "done"
    runner = on_temporal[0]
    client = runner.client
    prefix = runner.options.id_prefix
    attempt = client.get_workflow_handle(
        attempt_workflow_id(prefix, "run-test", record.agent_id, 1)
    )
    await attempt.result()
    history = await attempt.fetch_history()
    markers = [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    upserts = [
        e
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    if told:
        assert not markers and not upserts
    else:
        assert [m.marker_recorded_event_attributes.marker_name for m in markers] == ["core_patch"]
        assert ENDS_TOLD_BY_SESSION.encode() in markers[0].SerializeToString()
    assert (
        not [  # either way the session, not the attempt, tells the run workflow
            e
            for e in history.events
            if e.HasField("signal_external_workflow_execution_initiated_event_attributes")
        ]
    )
    replayer = Replayer(workflows=[AttemptWorkflow, RunWorkflow])
    await replayer.replay_workflow(history)  # raises on nondeterminism
    run = client.get_workflow_handle(run_workflow_id(prefix, "run-test"))
    await replayer.replay_workflow(await run.fetch_history())


async def test_an_attempt_from_before_the_end_signal_moved_replays(
    tmp_path: Path, on_temporal: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attempt whose history was made before its end was left to the session (it
    signalled the run workflow itself, and has no patch marker) replays on this code."""
    from temporalio import workflow
    from temporalio.worker import Replayer

    from core.temporal.types import attempt_workflow_id
    from core.temporal.workflows import AttemptWorkflow, RunWorkflow

    async def one(request: TurnRequest, sink: TurnSink) -> TurnResult:
        return text("done")

    _as_before_ends_told(monkeypatch)
    monkeypatch.setattr(workflow, "patched", lambda patch_id: False)  # the old code's path
    sup, _, _ = make_supervisor(ScriptedModel(one), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", None)
    await sup.wait([record.agent_id], timeout_s=20)
    runner = on_temporal[0]
    attempt = runner.client.get_workflow_handle(
        attempt_workflow_id(runner.options.id_prefix, "run-test", record.agent_id, 1)
    )
    await attempt.result()
    history = await attempt.fetch_history()
    signalled = [
        e
        for e in history.events
        if e.HasField("signal_external_workflow_execution_initiated_event_attributes")
    ]
    assert len(signalled) == 1  # the old end signal, and no marker
    assert not [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
    monkeypatch.undo()
    await Replayer(workflows=[AttemptWorkflow, RunWorkflow]).replay_workflow(history)
