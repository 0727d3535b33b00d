"""ApprovalBroker: policy decisions, headless refusal, and the operator's inbox in ask mode."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.events import ApprovalRequested, ApprovalResolved, Event
from core.tools.base import ToolContext, execute
from core.tools.policy import HEADLESS_REFUSAL, ApprovalBroker, CommandPolicy
from core.tools.registry import build_tools


class Harness:
    def __init__(self, *, interactive: bool = True, assume_yes: bool = False) -> None:
        self.events: list[Event] = []
        self.waiting: list[tuple[str, bool]] = []
        self.requested = asyncio.Event()
        self.broker = ApprovalBroker(
            self._emit,
            "run-1",
            CommandPolicy("ask", allow=["ls"], deny=["rm"]),
            interactive=interactive,
            assume_yes=assume_yes,
            on_waiting=lambda agent, on: self.waiting.append((agent, on)),
        )

    def _emit(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ApprovalRequested):
            self.requested.set()

    async def ask(self, command: str, agent: str = "coding-1") -> asyncio.Task[tuple[bool, str]]:
        self.requested.clear()
        task = asyncio.create_task(self.broker.authorize(agent, "run_command", command, "/ws"))
        await asyncio.wait_for(self.requested.wait(), 2)
        return task

    def resolved(self) -> list[ApprovalResolved]:
        return [e for e in self.events if isinstance(e, ApprovalResolved)]


async def test_policy_decisions_need_no_operator() -> None:
    h = Harness()
    assert await h.broker.authorize("a", "run_command", "ls -la", "/ws") == (True, "")
    allowed, reason = await h.broker.authorize("a", "run_command", "rm -rf x", "/ws")
    assert not allowed and reason.startswith("command denied by policy:")
    assert h.events == [] and h.waiting == []


async def test_headless_refuses_unless_yes() -> None:
    h = Harness(interactive=False)
    assert await h.broker.authorize("a", "run_command", "make", "/ws") == (False, HEADLESS_REFUSAL)
    h = Harness(interactive=False, assume_yes=True)
    assert await h.broker.authorize("a", "run_command", "make", "/ws") == (True, "")
    assert await h.broker.authorize("a", "run_command", "rm x", "/ws") != (True, "")


async def test_answer_once() -> None:
    h = Harness()
    task = await h.ask("make build")
    [pending] = h.broker.pending()
    assert (pending.agent_id, pending.tool, pending.command, pending.cwd) == (
        "coding-1",
        "run_command",
        "make build",
        "/ws",
    )
    requested = h.events[0]
    assert isinstance(requested, ApprovalRequested)
    assert requested.request_id == pending.request_id and requested.agent_id == "coding-1"
    assert h.waiting == [("coding-1", True)]
    assert h.broker.answer(pending.request_id, "once")
    assert await asyncio.wait_for(task, 2) == (True, "")
    assert h.waiting == [("coding-1", True), ("coding-1", False)]
    assert [(e.request_id, e.decision) for e in h.resolved()] == [(pending.request_id, "once")]
    assert h.broker.pending() == []
    assert not h.broker.answer(pending.request_id, "once")  # already answered
    assert h.broker.policy.decide("make build") == "ask"  # once is not remembered


async def test_answer_always_adds_prefix_and_releases_others() -> None:
    h = Harness()
    first = await h.ask("git log -1")
    second = await h.ask("git log -2", agent="coding-2")
    other = await h.ask("make", agent="coding-3")
    ids = [p.request_id for p in h.broker.pending()]
    assert len(ids) == 3
    assert h.broker.answer(ids[0], "always")
    assert await asyncio.wait_for(first, 2) == (True, "")
    assert await asyncio.wait_for(second, 2) == (True, "")
    assert h.broker.policy.allow == ["ls", "git log"]
    assert await h.broker.authorize("x", "run_command", "git log --stat", "/ws") == (True, "")
    assert [p.command for p in h.broker.pending()] == ["make"]
    assert h.broker.answer(ids[2], "deny")
    assert await asyncio.wait_for(other, 2) == (False, "the operator denied this command")
    by = {e.request_id: (e.decision, e.by) for e in h.resolved()}
    assert by == {
        ids[0]: ("always", "operator"),
        ids[1]: ("once", "policy"),
        ids[2]: ("deny", "operator"),
    }


async def test_pending_is_oldest_first() -> None:
    h = Harness()
    tasks = [await h.ask(f"make t{i}") for i in range(3)]
    assert [p.command for p in h.broker.pending()] == ["make t0", "make t1", "make t2"]
    for p in h.broker.pending():
        h.broker.answer(p.request_id, "once")
    await asyncio.wait_for(asyncio.gather(*tasks), 2)


async def test_cancel_agent_removes_its_requests() -> None:
    h = Harness()
    mine = await h.ask("make a", agent="coding-1")
    theirs = await h.ask("make b", agent="coding-2")
    assert h.broker.cancel_agent("coding-1") == 1
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(mine, 2)
    assert [p.agent_id for p in h.broker.pending()] == ["coding-2"]
    assert [(e.agent_id, e.by) for e in h.resolved()] == [("coding-1", "cancelled")]
    assert ("coding-1", False) in h.waiting
    theirs.cancel()  # the awaiting task itself cancelled: entry removed, resolved once
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(theirs, 2)
    assert h.broker.pending() == []
    assert [(e.agent_id, e.by) for e in h.resolved()] == [
        ("coding-1", "cancelled"),
        ("coding-2", "cancelled"),
    ]


async def test_run_command_waits_for_approval_then_runs(tmp_path: Path) -> None:
    h = Harness()
    ctx = ToolContext(workspace=tmp_path, agent_id="coding-1", authorize=h.broker.authorize)
    tools = build_tools(["run_command"])
    h.requested.clear()
    task = asyncio.create_task(execute(tools, "run_command", {"command": "echo ok"}, ctx))
    await asyncio.wait_for(h.requested.wait(), 2)
    [pending] = h.broker.pending()
    h.broker.answer(pending.request_id, "deny")
    res = await asyncio.wait_for(task, 5)
    assert res.is_error and res.text == "the operator denied this command"


async def test_bad_decision_is_refused() -> None:
    h = Harness()
    with pytest.raises(ValueError):
        h.broker.answer("nope", "sometimes")  # type: ignore[arg-type]
    assert not h.broker.answer("nope", "once")


async def test_headless_run_command_gets_a_tool_error(tmp_path: Path) -> None:
    h = Harness(interactive=False)
    ctx = ToolContext(workspace=tmp_path, agent_id="coding-1", authorize=h.broker.authorize)
    res = await execute(build_tools(["run_command"]), "run_command", {"command": "touch x"}, ctx)
    assert res.is_error and res.text == HEADLESS_REFUSAL
    assert not (tmp_path / "x").exists() and h.events == []
