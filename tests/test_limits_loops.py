"""Turn limits, endless pause_turn, the loop detector and the stall badge, through real
turns over the loopback SDK."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from core import ceo as ceo_module
from core.config import Settings
from core.events import CEO_ID, AgentStalled, Notice, ToolCallFinished
from tests.fakeapi import Message, RecordedRequest, Reply, Text, stalled, text_reply, tool_use_reply
from tests.faults.harness import agent_of, fault_run
from tests.limits_support import ANSWERED, sent, tool_results
from tui.view_model import RunView
from tui.widgets.agent_pane import render_agent


def roles_with(**changes: object) -> dict[str, object]:
    roles = dict(Settings().roles)
    roles["research"] = dataclasses.replace(roles["research"], **changes)  # type: ignore[arg-type]
    return roles


class OneWorker:
    """The CEO spawns one research worker, waits, answers; `worker` plays the worker."""

    def __init__(self, worker: object) -> None:
        self.worker_reply = worker
        self.ceo: list[RecordedRequest] = []
        self.worker: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.worker.append(request)
            return self.worker_reply(len(self.worker))  # type: ignore[operator]
        self.ceo.append(request)
        if len(self.ceo) == 1:
            return tool_use_reply([("spawn_agent", {"role": "research", "task": "task w: x"})])
        if len(self.ceo) == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")


async def test_a_sub_agent_stops_at_its_turn_limit(tmp_path: Path) -> None:
    # A worker that never stops working: a different file each turn (no repeats).
    plan = OneWorker(lambda n: tool_use_reply([("read_file", {"path": f"f{n}.txt"})]))
    async with fault_run(tmp_path, plan, settings={"roles": roles_with(max_turns=3)}) as run:  # type: ignore[arg-type]
        await run.finish()
        record = run.session.supervisor.get("research-1")
        assert (record.state, record.reason) == ("failed", "turn limit reached (3 turns)")
        assert "turn limit reached (3 turns)" in sent(plan.ceo[-1])
    assert len(plan.worker) == 3


async def test_endless_pause_turn_is_bounded_by_the_turn_limit(tmp_path: Path) -> None:
    plan = OneWorker(lambda n: Message([Text(f"still thinking {n}")], stop_reason="pause_turn"))
    async with fault_run(tmp_path, plan, settings={"roles": roles_with(max_turns=5)}) as run:  # type: ignore[arg-type]
        await run.finish()
        record = run.session.supervisor.get("research-1")
        assert (record.state, record.reason) == ("failed", "turn limit reached (5 turns)")
    assert len(plan.worker) == 5


async def test_the_ceo_turn_limit_ends_a_headless_run_with_a_notice(tmp_path: Path) -> None:
    class Plan:
        def __init__(self) -> None:
            self.n = 0

        def __call__(self, request: RecordedRequest) -> Reply:
            self.n += 1
            return Message([Text(f"hmm {self.n}")], stop_reason="pause_turn")

    plan = Plan()
    async with fault_run(tmp_path, plan, settings={"ceo_max_turns": 6}) as run:  # type: ignore[arg-type]
        outcome = await run.finish()
        assert outcome.status == "failed"
        assert run.session.error == "the CEO reached its turn limit (6 turns for one message)"
        notices = [n.text for n in run.recorder.of(Notice, CEO_ID)]
        assert any("stopped after 6 turns" in n for n in notices)
    assert plan.n == 6


async def test_the_interactive_ceo_waits_at_its_turn_limit_and_an_operator_message_resets_it(
    tmp_path: Path,
) -> None:
    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            self.ceo.append(request)
            if "go on" in sent(request):
                return text_reply("Here is the answer.")
            return tool_use_reply([("read_file", {"path": f"f{len(self.ceo)}.txt"})])

    plan = Plan()
    async with fault_run(  # type: ignore[arg-type]
        tmp_path, plan, settings={"ceo_max_turns": 4}, interactive=True
    ) as run:
        await run.recorder.wait_for(
            lambda e: isinstance(e, Notice) and "stopped after 4 turns" in e.text
        )
        assert len(plan.ceo) == 4
        run.session.say("go on")
        await run.recorder.wait_for(
            lambda e: isinstance(e, Notice) and "waiting for you" in e.text, timeout_s=10
        )
        assert len(plan.ceo) == 5
        last = plan.ceo[-1].messages[-1]["content"]
        # The last turn's tool results and the operator's message go in one user message.
        assert last[0]["type"] == "tool_result" and "go on" in last[-1]["text"]


async def test_a_ceo_repeating_wait_for_agents_is_told_at_n_and_stopped_at_2n(
    tmp_path: Path,
) -> None:
    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            self.ceo.append(request)
            return tool_use_reply([("wait_for_agents", {})])

    plan = Plan()
    async with fault_run(tmp_path, plan) as run:  # type: ignore[arg-type]
        outcome = await run.finish()
        assert outcome.status == "failed"
        assert run.session.error.startswith("stuck: made the same wait_for_agents call 8 times")
        finished = run.recorder.of(ToolCallFinished, CEO_ID)
        assert len(finished) == 7  # the 8th was never answered: the CEO was stopped
        assert all(f.is_error for f in finished)
        assert all("nothing to wait for" in f.output for f in finished[:3])
        assert all("repeating yourself" in f.output for f in finished[3:])
    assert len(plan.ceo) == 8  # N = 4: told at the 4th, stopped at the 8th (2N)


async def test_a_wait_that_really_waited_is_not_a_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polling with a timeout while an agent works is progress, not a loop."""
    monkeypatch.setattr(ceo_module, "PROGRESS_WAIT_S", 0.05)
    release = asyncio.Event()

    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            if agent_of(request) != CEO_ID:
                return text_reply("report")
            self.ceo.append(request)
            if len(self.ceo) == 1:
                return tool_use_reply([("spawn_agent", {"role": "research", "task": "task w"})])
            if len(self.ceo) == 10:
                release.set()
            if "report" in sent(request):
                return text_reply("All done.")
            return tool_use_reply([("wait_for_agents", {"timeout_s": 0.1})])

    def hold_worker(session: object) -> None:
        original = session.agent_runner.make_agent  # type: ignore[attr-defined]

        def make(spec, emit):  # type: ignore[no-untyped-def]
            agent = original(spec, emit)
            if spec.role == "ceo":
                return agent
            run = agent.run

            async def held():  # type: ignore[no-untyped-def]
                await release.wait()
                return await run()

            agent.run = held
            return agent

        session.agent_runner.make_agent = make  # type: ignore[attr-defined]

    plan = Plan()
    async with fault_run(tmp_path, plan, before_start=hold_worker) as run:  # type: ignore[arg-type]
        outcome = await run.finish(timeout_s=30)
        assert outcome.status in ANSWERED, run.session.error
    assert len(plan.ceo) >= 10


async def test_a_stalled_agent_gets_a_badge_and_the_ceo_is_told(tmp_path: Path) -> None:
    stall_reply, stall = stalled(text_reply("a report that stalls half way", pieces=4), after=4)

    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            if agent_of(request) != CEO_ID:
                return stall_reply
            self.ceo.append(request)
            if len(self.ceo) == 1:
                return tool_use_reply([("spawn_agent", {"role": "research", "task": "task w"})])
            if len(self.ceo) == 2:
                return tool_use_reply([("wait_for_agents", {})])
            if "is stalled" in sent(request) and not stall.released.is_set():
                stall.release()
                return tool_use_reply([("wait_for_agents", {})])
            return text_reply("All done.")

    view = RunView()
    plan = Plan()
    async with fault_run(  # type: ignore[arg-type]
        tmp_path,
        plan,
        settings={"stall_after_s": 0.3},
        before_start=lambda s: s.bus.subscribe(view.apply),
    ) as run:
        await run.recorder.wait_for(lambda e: isinstance(e, AgentStalled) and e.stalled)
        agent = view.agents["research-1"]
        assert agent.state == "running" and agent.stalled_s is not None
        assert "stalled" in str(render_agent(agent, view.last_ts, 60))
        outcome = await run.finish()
        assert outcome.status in ANSWERED
        marks = [e.stalled for e in run.recorder.of(AgentStalled, "research-1")]
        assert marks == [True, False]  # once, and cleared when it moved again
        assert "stalled" not in str(render_agent(view.agents["research-1"], view.last_ts, 60))
        told = plan.ceo[2]
        assert "research-1 has shown no output and no tool progress" in sent(told)
        result = tool_results(told)[0]
        assert "returned early: research-1 is stalled" in result["content"]
