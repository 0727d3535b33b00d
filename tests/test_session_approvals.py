"""A sub-agent's command that needs the operator's approval, through the whole Session:
the request the TUI shows, the agent waiting (its clock paused), the answer, and the
command run only after an approval. tests/test_session_temporal.py runs these again
with the sub-agent on a Temporal worker: the same events and store rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.events import (
    CEO_ID,
    AgentFinished,
    AgentStateChanged,
    ApprovalRequested,
    ApprovalResolved,
    Event,
    ToolCallFinished,
    ToolCallStarted,
)
from tests.fakeapi import RecordedRequest, Reply, text_reply, tool_use_reply
from tests.faults.harness import FaultRun, agent_of, fault_run
from tests.limits_support import tool_results

COMMAND = "touch approved.txt"


class ApprovalPlan:
    """The CEO spawns one coding agent, which runs COMMAND (not on the allow list), then
    reports; the CEO waits for it."""

    def __init__(self, command: str = COMMAND, timeout_s: float | None = None) -> None:
        self.command = command
        self.timeout_s = timeout_s
        self.worker: list[RecordedRequest] = []
        self.ceo: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.worker.append(request)
            if len(self.worker) == 1:
                return tool_use_reply([("run_command", {"command": self.command})])
            results = tool_results(request)
            return text_reply("report: " + (str(results[0]["content"]) if results else "-"))
        self.ceo.append(request)
        if len(self.ceo) == 1:
            spawn: dict[str, Any] = {"role": "coding", "task": "task w: touch a file"}
            if self.timeout_s is not None:
                spawn["timeout_s"] = self.timeout_s
            return tool_use_reply([("spawn_agent", spawn)])
        if len(self.ceo) == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")


async def next_event(run: FaultRun, kind: type[Event], timeout_s: float = 20.0) -> Any:
    """The first event of `kind`, waited for (on the recorder, not by sleeping)."""
    return await run.recorder.wait_for(lambda e: isinstance(e, kind), timeout_s)


async def finished(run: FaultRun, agent_id: str) -> None:
    """The agent ended (an interactive run goes on: the CEO waits for the operator)."""
    await run.recorder.wait_for(
        lambda e: isinstance(e, AgentFinished) and e.agent_id == agent_id, 30.0
    )


async def assert_stored(run: FaultRun, agent_id: str) -> None:
    """The store has the agent's events as they were published (same rows as local)."""
    await run.store.flush()
    stored = await run.store.events(run.session.run_id)
    assert approval_story(run, agent_id, stored) == approval_story(run, agent_id)
    assert [e.to_dict() for e in stored if isinstance(e, APPROVALS)] == [
        e.to_dict() for e in run.recorder.events if isinstance(e, APPROVALS)
    ]


APPROVALS = (ApprovalRequested, ApprovalResolved)


def approval_story(
    run: FaultRun, agent_id: str, events: list[Event] | None = None
) -> list[tuple[str, str]]:
    """The agent's tool call and approval events, in order, as the TUI and store get them."""
    out = []
    for e in run.recorder.events if events is None else events:
        if e.agent_id != agent_id:
            continue
        if isinstance(e, ToolCallStarted | ToolCallFinished):
            out.append((e.kind, e.name))
        elif isinstance(e, ApprovalRequested):
            out.append((e.kind, e.command))
        elif isinstance(e, ApprovalResolved):
            out.append((e.kind, f"{e.decision} by {e.by}"))
        elif isinstance(e, AgentStateChanged) and e.state == "waiting_approval":
            out.append((e.kind, e.state))
    return out


async def test_a_command_waits_for_the_operator_and_runs_once_approved(tmp_path: Path) -> None:
    plan = ApprovalPlan()
    async with fault_run(tmp_path, plan, interactive=True) as run:
        asked = await next_event(run, ApprovalRequested)
        session = run.session
        assert asked.command == COMMAND and asked.tool == "run_command"
        (pending,) = session.pending_approvals()
        assert (pending.request_id, pending.agent_id) == (asked.request_id, asked.agent_id)
        record = session.supervisor.get(asked.agent_id)
        assert record.state == "waiting_approval"
        assert not (tmp_path / "ws" / "approved.txt").exists()  # not before the answer
        assert len(plan.worker) == 1
        assert session.answer_approval(asked.request_id, "once")
        await finished(run, asked.agent_id)
        assert (tmp_path / "ws" / "approved.txt").exists()
        assert run.finished(asked.agent_id).state == "done"
        assert tool_results(plan.worker[1])[0].get("is_error") is not True
        assert approval_story(run, asked.agent_id) == [
            ("tool_started", "run_command"),
            ("approval_requested", COMMAND),
            ("agent_state", "waiting_approval"),
            ("approval_resolved", "once by operator"),
            ("tool_finished", "run_command"),
        ]
        assert not session.pending_approvals()
        await assert_stored(run, asked.agent_id)


async def test_a_denied_command_never_runs_and_the_agent_is_told(tmp_path: Path) -> None:
    plan = ApprovalPlan()
    async with fault_run(tmp_path, plan, interactive=True) as run:
        asked = await next_event(run, ApprovalRequested)
        assert run.session.answer_approval(asked.request_id, "deny")
        await finished(run, asked.agent_id)
        assert not (tmp_path / "ws" / "approved.txt").exists()
        (result,) = tool_results(plan.worker[1])
        assert result["is_error"] is True
        assert result["content"] == "the operator denied this command"
        assert ("approval_resolved", "deny by operator") in approval_story(run, asked.agent_id)
        await assert_stored(run, asked.agent_id)


async def test_always_allows_the_prefix_for_the_next_command(tmp_path: Path) -> None:
    plan = ApprovalPlan()
    async with fault_run(tmp_path, plan, interactive=True) as run:
        asked = await next_event(run, ApprovalRequested)
        assert run.session.answer_approval(asked.request_id, "always")
        await finished(run, asked.agent_id)
        assert (tmp_path / "ws" / "approved.txt").exists()
        assert "touch" in run.session.policy.allow
        assert run.session.policy.decide("touch other.txt") == "allow"


async def test_the_timeout_clock_stands_still_while_the_operator_decides(
    tmp_path: Path,
) -> None:
    """A 4 s timeout, and the operator answers after 4.5 s: the agent is not timed out
    (its time excludes the wait), and its command runs. (4 s: on a loaded machine a
    Temporal attempt can take 2 s to reach its command and finish after it.)"""
    plan = ApprovalPlan(timeout_s=4.0)
    async with fault_run(tmp_path, plan, interactive=True) as run:
        asked = await next_event(run, ApprovalRequested)
        record = run.session.supervisor.get(asked.agent_id)
        await asyncio.sleep(4.5)  # the operator thinks: wall time must pass here
        assert record.state == "waiting_approval"
        assert run.session.answer_approval(asked.request_id, "once")
        await finished(run, asked.agent_id)
        assert run.finished(asked.agent_id).state == "done"
        assert (tmp_path / "ws" / "approved.txt").exists()


async def test_a_killed_agent_drops_its_request(tmp_path: Path) -> None:
    plan = ApprovalPlan()
    async with fault_run(tmp_path, plan, interactive=True) as run:
        asked = await next_event(run, ApprovalRequested)
        session = run.session
        await session.supervisor.kill(asked.agent_id)
        assert not session.pending_approvals()
        assert not session.answer_approval(asked.request_id, "once")
        await finished(run, asked.agent_id)
        assert run.finished(asked.agent_id).state == "killed"
        assert not (tmp_path / "ws" / "approved.txt").exists()
        assert ("approval_resolved", "deny by cancelled") in approval_story(run, asked.agent_id)
