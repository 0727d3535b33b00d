"""TemporalRunner against a real dev server: an attempt is a workflow, its turns and
tool calls activities on an in-process worker, its events on the hub."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.events import Event, SteerDelivered, ToolCallFinished, ToolCallStarted, UsageUpdated
from core.llm import TurnRequest, TurnResult, TurnSink
from core.runner import AttemptHooks, AttemptOutcome, AttemptSpec, Deadline, InboxMessage
from core.sandbox import SandboxSettings
from tests.scripted import ScriptedModel, all_text, text, tool_use
from tests.temporal_support import NoLocal, conversations, temporal_address, unique_prefix

__all__ = ["temporal_address"]  # the module's dev server fixture


class Harness:
    def __init__(self, runner: Any, events: list[Event]) -> None:
        self.runner = runner
        self.events = events
        self.changed = asyncio.Event()
        self.ends: list[AttemptOutcome] = []
        self.wrap_ups = 0

    def start(self, agent_id: str = "coding-1", **spec: Any) -> Any:
        fields: dict[str, Any] = {
            "run_id": "run",
            "agent_id": agent_id,
            "role": "coding",
            "model": "claude-haiku-5-5",
            "attempt": 1,
            "first_message": "do the task",
            **spec,
        }

        def wrap() -> None:
            self.wrap_ups += 1

        return self.runner.start(AttemptSpec(**fields), AttemptHooks(self.ends.append, wrap))

    async def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> Event:
        async def scan() -> Event:
            seen = 0
            while True:
                for e in self.events[seen:]:
                    if predicate(e):
                        return e
                seen = len(self.events)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), timeout_s)


@pytest.fixture
async def harness_for(temporal_address: str, tmp_path: Path) -> AsyncIterator[Any]:
    from core.temporal.runner import AgentShape, TemporalOptions, TemporalRunner

    made: list[Any] = []

    def make(model: ScriptedModel, continue_after: int = 10_000, **settings: Any) -> Harness:
        events: list[Event] = []
        harness: Harness

        def emit(event: Event) -> None:
            events.append(event)
            harness.changed.set()

        runner = TemporalRunner(
            # Unconfined like the supervisor's tests (the pids seen are the host's).
            settings=Settings(
                workspace=tmp_path,
                permission_mode="allow",
                sandbox=SandboxSettings(mode="off"),
                **settings,
            ),
            emit=emit,
            local=NoLocal(),  # type: ignore[arg-type]
            client=model,  # type: ignore[arg-type]
            options=TemporalOptions(
                address=temporal_address,
                local_worker=True,
                conversations=conversations(tmp_path),
                id_prefix=unique_prefix(),
                continue_after_events=continue_after,
            ),
            shape=lambda spec: AgentShape(
                "You are a sub-agent.", ("read_file", "list_files", "run_command")
            ),
        )
        harness = Harness(runner, events)
        made.append(runner)
        return harness

    yield make
    for runner in made:
        await runner.aclose()


async def test_an_attempt_runs_its_turns_and_tools_as_activities(harness_for: Any) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("list_files", {})
        sink.on_text("All ")
        return text("All done.")

    model = ScriptedModel(script)
    h = harness_for(model)
    attempt = h.start()
    outcome = await asyncio.wait_for(attempt.wait(), 20)
    assert (outcome.state, outcome.result) == ("done", "All done.")
    assert h.ends == [outcome]
    assert outcome.usage.input_tokens == 200 and outcome.usage.output_tokens == 40
    kinds = [type(e) for e in h.events]
    assert ToolCallStarted in kinds and ToolCallFinished in kinds and UsageUpdated in kinds
    # The second turn saw the tool's result: the conversation went from one activity to
    # the next through the worker's store, not through Temporal.
    assert "tool_result" in str(model.requests[1].messages[-1]["content"])
    assert attempt.progress().usage == outcome.usage


async def test_steer_is_accepted_and_delivered_at_the_next_turn(harness_for: Any) -> None:
    in_turn, release = asyncio.Event(), asyncio.Event()

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            in_turn.set()
            await release.wait()
            return tool_use("list_files", {})
        return text("report")

    model = ScriptedModel(script)
    h = harness_for(model)
    attempt = h.start()
    await asyncio.wait_for(in_turn.wait(), 10)
    steer = InboxMessage("[message from the lead] Focus on pricing.")
    receipt = attempt.steer(steer)
    assert receipt.steer_id == steer.steer_id
    release.set()
    delivered = await h.wait_for(lambda e: isinstance(e, SteerDelivered))
    assert (delivered.steer_id, delivered.turn) == (steer.steer_id, 2)
    assert (await attempt.wait()).state == "done"
    assert "Focus on pricing." in all_text(model.requests[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


async def test_kill_stops_the_running_command_within_a_second(
    harness_for: Any, tmp_path: Path
) -> None:
    command = "echo $$ > shell.pid; sleep 30 & echo $! > child.pid; sleep 30; wait"

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("run_command", {"command": command, "timeout_s": 60})
        return text("ran it")

    h = harness_for(ScriptedModel(script))
    attempt = h.start()
    pid_files = [tmp_path / "shell.pid", tmp_path / "child.pid"]
    deadline = time.monotonic() + 15
    while not all(p.exists() and p.read_text().strip() for p in pid_files):
        assert time.monotonic() < deadline, "the command did not start"
        await asyncio.sleep(0.02)
    pids = [int(p.read_text()) for p in pid_files]
    killed_at = time.monotonic()
    outcome = await attempt.cancel("killed")
    took = time.monotonic() - killed_at
    assert outcome.state == "killed" and outcome.reason == "killed"
    assert took < 1.0, f"kill took {took:.2f}s"
    assert not any(_alive(pid) for pid in pids)


async def test_the_workflow_times_out_and_an_extension_moves_its_timer(harness_for: Any) -> None:
    async def hang(request: TurnRequest, sink: TurnSink) -> TurnResult:
        sink.on_text("Half a report")
        await asyncio.Event().wait()  # never set: the reply stalls until stopped
        raise AssertionError

    h = harness_for(ScriptedModel(hang))
    started = time.monotonic()
    # The move is sent at once, often before the workflow's first activation: it must
    # not be lost to the start's own timeout (it was: the run ended at ~1.0 s).
    attempt = h.start(deadline=Deadline(timeout_s=1.0, wrap_up_s=0.8))
    await asyncio.sleep(0.1)  # the workflow is starting; move its timer before it fires
    attempt.set_deadline(Deadline(timeout_s=2.2, wrap_up_s=1.8))
    outcome = await asyncio.wait_for(attempt.wait(), 10)
    took = time.monotonic() - started
    assert (outcome.state, outcome.reason) == ("timed_out", "timed out")
    assert 2.1 <= took < 5.0, took
    assert h.wrap_ups == 1  # at the moved mark, once
    assert "Half a report" in outcome.result or outcome.result == ""


async def test_a_spent_budget_stops_the_attempt(harness_for: Any) -> None:
    async def chatty(request: TurnRequest, sink: TurnSink) -> TurnResult:
        return tool_use("list_files", {})  # never ends by itself

    h = harness_for(ScriptedModel(chatty))
    attempt = h.start(token_budget=500)
    outcome = await asyncio.wait_for(attempt.wait(), 20)
    assert outcome.state == "failed"
    assert "token budget" in outcome.reason and "spent" in outcome.reason


async def test_a_long_attempt_continues_as_new_with_its_conversation(harness_for: Any) -> None:
    async def eight_tool_turns(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) < 17:
            return tool_use("list_files", {})
        return text(f"finished after {len(request.messages)} messages")

    model = ScriptedModel(eight_tool_turns)
    h = harness_for(model, continue_after=30)  # a few turns per workflow run
    attempt = h.start()
    outcome = await asyncio.wait_for(attempt.wait(), 30)
    assert (outcome.state, outcome.result) == ("done", "finished after 17 messages")
    # Each turn saw the whole conversation so far, across the workflow's runs.
    assert [len(r.messages) for r in model.requests] == list(range(1, 18, 2))
    assert outcome.usage.output_tokens == 9 * 20  # the usage went across them too
    runner = h.runner
    handle = runner.client.get_workflow_handle(attempt.handle.id)
    started = None
    async for event in handle.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        break
    assert started is not None and started.continued_execution_run_id  # a continued run


async def test_a_runner_closed_while_it_connects_leaves_no_worker_behind(
    temporal_address: str, tmp_path: Path
) -> None:
    from core.temporal.runner import TemporalOptions, TemporalRunner

    runner = TemporalRunner(
        settings=Settings(workspace=tmp_path),
        emit=lambda e: None,
        local=NoLocal(),  # type: ignore[arg-type]
        client=ScriptedModel(lambda r, s: None),  # type: ignore[arg-type,return-value]
        options=TemporalOptions(
            address=temporal_address,
            local_worker=True,
            conversations=conversations(tmp_path),
            id_prefix=unique_prefix(),
        ),
    )
    runner.warm_up()  # as Session.start does
    await runner.aclose()  # at once, as a session closed right after it started
    assert runner.workers is not None  # it had started one ...
    assert all(t.done() for t in runner.workers._tasks)  # ... and it is stopped
