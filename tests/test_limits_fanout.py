"""Bounded fan-out through real turns over the loopback SDK: max_agents, one queue event
per change, a bound on parallel tool calls, the run_check timeout cap, max_retries, and
wait_for_agents with nothing to wait for."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path
from typing import Any

from core.events import (
    CEO_ID,
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentStateChanged,
    Event,
    ToolCallFinished,
    ToolCallStarted,
)
from core.projections import Projector, RunProjection
from core.tools.shell import MAX_COMMAND_TIMEOUT_S, command_timeout
from tests.fakeapi import RecordedRequest, Reply, text_reply, tool_use_reply
from tests.faults.harness import agent_of, fault_run
from tui.view_model import RunView

ANSWERED = ("done", "unverified")  # the CEO answered (with or without a check)


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last user message."""
    content = request.messages[-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


class FanOut:
    """The CEO spawns `n` research agents in one reply, waits, answers; each agent reports."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.ceo: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            return text_reply("report", pieces=1)
        self.ceo.append(request)
        if len(self.ceo) == 1:
            calls = [
                ("spawn_agent", {"role": "research", "task": f"task w{i}: look"})
                for i in range(self.n)
            ]
            return tool_use_reply(calls, pieces=1)
        if len(self.ceo) == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")


def lifecycle(events: list[Event]) -> collections.Counter[str]:
    kinds = (AgentSpawned, AgentQueued, AgentStateChanged, AgentFinished)
    return collections.Counter(
        e.agent_id or "" for e in events if isinstance(e, kinds) and e.agent_id != CEO_ID
    )


async def test_a_thousand_spawns_in_one_reply_write_a_linear_number_of_events(
    tmp_path: Path,
) -> None:
    plan = FanOut(1000)
    started = time.monotonic()
    async with fault_run(tmp_path, plan, max_concurrent=20, settings={"max_agents": 1000}) as run:  # type: ignore[arg-type]
        outcome = await run.finish(timeout_s=240)
        elapsed = time.monotonic() - started
        events = run.recorder.events
        assert outcome.status in ANSWERED, outcome.result
        sub_agents = [r for r in run.session.supervisor.records.values()]
        assert len(sub_agents) == 1000 and all(r.state == "done" for r in sub_agents)
        queued = [e for e in events if isinstance(e, AgentQueued)]
        # One announcement per agent that had to wait (980 with the cap at 20), not one
        # per agent per move of the queue (the old code wrote ~n^2/2 of them).
        assert len(queued) == 980
        assert len({e.agent_id for e in queued}) == 980
        per_agent = lifecycle(events)
        assert max(per_agent.values()) < 10
        assert sum(per_agent.values()) < 10 * 1000
        # Everything the run wrote, the agents' own turns included, stays linear too.
        assert len(events) < 20 * 1000, len(events)
        await run.assert_stored()
        print(f"\n1000 spawns: {len(events)} events, {len(queued)} agent_queued, {elapsed:.1f}s")


async def test_queue_positions_are_derived_where_they_are_shown(tmp_path: Path) -> None:
    """Only the enqueue is announced; the view and the store still show the right place."""
    plan = FanOut(12)
    seen: list[dict[str, int | None]] = []
    view = RunView()
    projection = RunProjection(run_id="")
    projector = Projector()

    def watch(event: Event) -> None:
        view.apply(event)
        projection.run_id = event.run_id
        projector.apply(projection, event, 0)
        if isinstance(event, AgentStateChanged) and event.state == "running":
            truth = {a: i + 1 for i, a in enumerate(run.session.supervisor.queue)}
            shown = {
                a.agent_id: a.queue_position for a in view.agents.values() if a.state == "queued"
            }
            stored = {
                a.agent_id: a.queue_position
                for a in projection.agents.values()
                if a.state == "queued"
            }
            assert shown == truth and stored == truth
            seen.append(shown)

    async with fault_run(
        tmp_path, plan, max_concurrent=2, before_start=lambda s: s.bus.subscribe(watch)
    ) as run:  # type: ignore[arg-type]
        outcome = await run.finish(timeout_s=30)
        assert outcome.status in ANSWERED
    assert any(len(s) >= 5 for s in seen), "the queue never held several agents"


async def test_the_agent_past_max_agents_gets_a_tool_error(tmp_path: Path) -> None:
    plan = FanOut(203)
    async with fault_run(tmp_path, plan, max_concurrent=20) as run:  # type: ignore[arg-type]
        outcome = await run.finish(timeout_s=60)
        assert outcome.status in ANSWERED
        assert len(run.session.supervisor.records) == 200
        results = tool_results(plan.ceo[1])
        assert len(results) == 203
        assert not any(r.get("is_error") for r in results[:200])
        for r in results[200:]:
            assert r["is_error"] is True
            assert "max_agents = 200" in r["content"]


class ManyChecks:
    """One CEO reply with `n` run_check calls, each a real command."""

    def __init__(self, n: int, command: str) -> None:
        self.n, self.command = n, command
        self.ceo: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        self.ceo.append(request)
        if len(self.ceo) == 1:
            calls = [("run_check", {"command": self.command.format(i=i)}) for i in range(self.n)]
            return tool_use_reply(calls, pieces=1)
        return text_reply("All done.")


async def test_a_thousand_run_checks_in_one_reply_run_at_most_eight_at_once(
    tmp_path: Path,
) -> None:
    plan = ManyChecks(1000, "echo {i}")
    in_flight = peak = 0

    def watch(event: Event) -> None:
        nonlocal in_flight, peak
        if isinstance(event, ToolCallStarted):
            in_flight += 1
            peak = max(peak, in_flight)
        elif isinstance(event, ToolCallFinished):
            in_flight -= 1

    async with fault_run(
        tmp_path,
        plan,  # type: ignore[arg-type]
        settings={"assume_yes": True},
        before_start=lambda s: s.bus.subscribe(watch),
    ) as run:
        outcome = await run.finish(timeout_s=240)
        assert outcome.status in ANSWERED
        results = tool_results(plan.ceo[1])
        assert len(results) == 1000
        outputs = [json.loads(r["content"]) for r in results]
        assert [o["stdout_tail"].strip() for o in outputs] == [str(i) for i in range(1000)]
    assert peak == 8


async def test_run_check_timeout_is_bounded_like_run_commands(tmp_path: Path) -> None:
    seen: list[float] = []

    async def fake_check(command: str, timeout_s: float) -> dict[str, Any]:
        seen.append(timeout_s)
        return {"exit_code": 0, "stdout_tail": "", "stderr_tail": ""}

    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            self.ceo.append(request)
            if len(self.ceo) == 1:
                return tool_use_reply(
                    [
                        ("run_check", {"command": "ls", "timeout_s": 1e9}),
                        ("run_check", {"command": "ls", "timeout_s": 600}),
                        ("run_check", {"command": "ls"}),
                    ]
                )
            return text_reply("All done.")

    def patch(session: Any) -> None:
        session.ceo_tools.run_check_fn = fake_check

    plan = Plan()
    async with fault_run(tmp_path, plan, before_start=patch) as run:  # type: ignore[arg-type]
        await run.finish()
    huge, most, default = tool_results(plan.ceo[1])
    assert huge["is_error"] is True and "timeout_s" in huge["content"]
    assert not most.get("is_error") and not default.get("is_error")
    assert seen == [600.0, 120.0]
    assert command_timeout(1e9, 120.0) == MAX_COMMAND_TIMEOUT_S  # the handler caps it too


class Retrier:
    """The CEO spawns one agent that always fails, then retries it as often as it may."""

    def __init__(self) -> None:
        self.ceo: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            from tests.fakeapi import http_error

            return http_error(404, "not_found_error", "no such model")
        self.ceo.append(request)
        if len(self.ceo) == 1:
            return tool_use_reply([("spawn_agent", {"role": "research", "task": "task a: x"})])
        last = tool_results(request)
        if last and last[0].get("is_error") and "max_retries" in str(last[0]["content"]):
            return text_reply("It keeps failing; giving up.")
        if len(self.ceo) % 2 == 0:
            return tool_use_reply([("wait_for_agents", {})])
        return tool_use_reply([("retry_agent", {"agent_id": "research-1", "feedback": "again"})])


async def test_retries_past_max_retries_are_a_tool_error(tmp_path: Path) -> None:
    plan = Retrier()
    async with fault_run(tmp_path, plan, sdk_retries=0) as run:  # type: ignore[arg-type]
        await run.finish(timeout_s=30)
        record = run.session.supervisor.get("research-1")
        assert record.attempt == 4  # the first try and 3 retries
        refused = tool_results(plan.ceo[-1])[0]
        assert refused["is_error"] is True
        assert "already retried 3 times" in refused["content"]
        assert run.session.supervisor.records["research-1"].state == "failed"
    worker_requests = [r for r in run.api.requests if agent_of(r) != CEO_ID]
    assert len(worker_requests) == 4


async def test_wait_for_agents_with_nothing_to_wait_for_is_an_error(tmp_path: Path) -> None:
    class Plan:
        def __init__(self) -> None:
            self.ceo: list[RecordedRequest] = []

        def __call__(self, request: RecordedRequest) -> Reply:
            if agent_of(request) != CEO_ID:
                return text_reply("report", pieces=1)
            self.ceo.append(request)
            n = len(self.ceo)
            if n == 1:
                return tool_use_reply([("wait_for_agents", {})])
            if n == 2:
                return tool_use_reply([("spawn_agent", {"role": "research", "task": "task a: x"})])
            if n in (3, 4):
                return tool_use_reply([("wait_for_agents", {})])
            return text_reply("All done.")

    plan = Plan()
    async with fault_run(tmp_path, plan) as run:  # type: ignore[arg-type]
        outcome = await run.finish()
        assert outcome.status in ANSWERED
    first = tool_results(plan.ceo[1])[0]
    assert first["is_error"] is True
    assert "no agent has been spawned" in first["content"]
    # The agent's report reached the CEO (as the wait's result or as a finish notice).
    assert "report" in json.dumps(plan.ceo[3].messages[-1])
    again = tool_results(plan.ceo[4])[0]
    assert again["is_error"] is True
    assert "research-1 done" in again["content"] and "retry_agent" in again["content"]
