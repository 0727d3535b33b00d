"""Budgets through real turns over the loopback SDK: an agent's dollars and tokens, the
run's dollars, each warned once at 80% and stopped at 100% in the middle of a reply."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.catalog import Catalog
from core.config import DEFAULT_RUN_BUDGET_USD, Settings
from core.events import (
    CEO_ID,
    AgentFinished,
    BudgetCrossed,
    Notice,
    RunFinished,
    RunStarted,
    TextDelta,
)
from core.session import SessionError
from core.tools.base import ToolError
from tests.fakeapi import RecordedRequest, Reply, text_reply, tool_use_reply
from tests.faults.harness import agent_of, fault_run
from tests.limits_support import long_text, sent, slow, tool_then
from tui.view_model import RunView

WORKER_MODEL = "claude-haiku-4-5"  # $1 / $5 per million tokens: round figures
PRICE = Catalog().get(WORKER_MODEL)
assert PRICE is not None and (PRICE.price.input, PRICE.price.output) == (1.0, 5.0)
IN, OUT = 1e-6, 5e-6  # dollars per input / output token


def stop_deltas(session: object) -> int:
    """How many deltas a worker may stream past the run's budget before its stop lands.
    In this process the stop cuts the stream at the next delta (they come every 5 ms).
    On Temporal it crosses the event hub first; under load that hop took more than one
    delta's 5 ms, so a few are allowed there. A stop that waits for a heartbeat (the bug
    this bounds) lets about 75 through."""
    from core.local_runner import LocalRunner

    return 1 if isinstance(getattr(session, "agent_runner", None), LocalRunner) else 4


def streamed(run: object, agent_id: str) -> str:
    return "".join(e.text for e in run.recorder.of(TextDelta, agent_id))  # type: ignore[attr-defined]


class AgentBudgetPlan:
    """The CEO spawns one worker with a $0.002 budget and waits. The worker's first turn
    costs 82.5% of it (a tool call); its second streams a long reply slowly."""

    def __init__(self) -> None:
        self.ceo: list[RecordedRequest] = []
        self.worker: list[RecordedRequest] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.worker.append(request)
            if len(self.worker) == 1:
                return tool_then("list_files", {"path": "."}, input_tokens=1000, output_tokens=130)
            return slow(long_text(100, input_tokens=10, output_tokens=2000))
        self.ceo.append(request)
        if len(self.ceo) == 1:
            spawn = {
                "role": "research",
                "task": "task w: write a long report",
                "model": WORKER_MODEL,
                "budget_usd": 0.002,
            }
            return tool_use_reply([("spawn_agent", spawn)])
        if len(self.ceo) == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")


async def test_an_agent_is_stopped_mid_reply_when_its_budget_is_spent(tmp_path: Path) -> None:
    plan = AgentBudgetPlan()
    async with fault_run(tmp_path, plan) as run:  # type: ignore[arg-type]
        await run.finish(timeout_s=30)
        record = run.session.supervisor.get("research-1")
        assert record.state == "failed"
        assert record.reason == "budget of $0.0020 spent"
        # Turn 1 as the API reported it; turn 2 from message_start's input and the
        # estimate of the 320 characters streamed when the estimate crossed $0.002:
        # 1 reported output token + 320 / 4.
        turn1 = 1000 * IN + 130 * OUT
        turn2 = 10 * IN + (1 + 320 // 4) * OUT
        assert record.cost_usd == pytest.approx(turn1 + turn2, abs=1e-12)
        assert turn1 + turn2 >= 0.002 > turn1 + 10 * IN + (1 + 240 // 4) * OUT
        # Stopped in the middle of the reply: 4 of its 100 deltas, not the rest.
        text = streamed(run, "research-1")
        assert len(text) == 320 and text.startswith("00000") and "00004" not in text
        crossings = run.recorder.of(BudgetCrossed, "research-1")
        assert [(c.level, c.unit, c.limit) for c in crossings] == [
            ("warn", "usd", 0.002),
            ("spent", "usd", 0.002),
        ]
        # The agent was told once, at its next turn; the CEO once too.
        assert sent(plan.worker[1]).count("You have used 80% of your budget") == 1
        assert sent(plan.ceo[-1]).count("research-1 has used 80% of its budget") == 1
        finished = run.finished("research-1")
        assert finished.state == "failed"
        assert "budget of $0.0020 spent" in sent(plan.ceo[-1])
    assert len(plan.worker) == 2


class TokenBudgetPlan(AgentBudgetPlan):
    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.worker.append(request)
            if len(self.worker) == 1:  # 1000 + 1500 = 2,500 of 3,000 tokens: 83%
                return tool_then("list_files", {"path": "."}, input_tokens=1000, output_tokens=1500)
            return slow(long_text(100, input_tokens=10, output_tokens=2000))
        self.ceo.append(request)
        if len(self.ceo) == 1:
            spawn = {"role": "research", "task": "task w: write", "model": WORKER_MODEL}
            return tool_use_reply([("spawn_agent", spawn)])
        if len(self.ceo) == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")


async def test_a_token_budget_warns_at_80_and_stops_mid_reply_at_100(tmp_path: Path) -> None:
    roles = dict(Settings().roles)
    roles["research"] = dataclasses.replace(roles["research"], token_budget=3000)
    plan = TokenBudgetPlan()
    async with fault_run(tmp_path, plan, settings={"roles": roles}) as run:  # type: ignore[arg-type]
        await run.finish(timeout_s=30)
        record = run.session.supervisor.get("research-1")
        assert (record.state, record.reason) == ("failed", "token budget of 3,000 tokens spent")
        # 2,500 after turn 1; turn 2 adds 10 prompt tokens, 1 reported output token and
        # the estimate: 489 more tokens are first reached at 1,960 characters (25 deltas).
        text = streamed(run, "research-1")
        assert len(text) == 25 * 80
        u = record.usage
        assert u.prompt_tokens + u.output_tokens == 2500 + 10 + 1 + 2000 // 4
        crossings = run.recorder.of(BudgetCrossed, "research-1")
        assert [(c.level, c.unit) for c in crossings] == [("warn", "tokens"), ("spent", "tokens")]
        assert sent(plan.worker[1]).count("You have used 80% of your token budget") == 1
        assert sent(plan.ceo[-1]).count("research-1 has used 80% of its token budget") == 1


class RunBudgetPlan:
    """The CEO spawns two workers that stream long replies; the run has $0.01."""

    def __init__(self) -> None:
        self.ceo: list[RecordedRequest] = []
        self.workers = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.workers += 1
            return slow(long_text(100, input_tokens=1000, output_tokens=2000))
        self.ceo.append(request)
        if request.body.get("tool_choice") == {"type": "none"}:
            return text_reply("Budget spent: two reports were cut short; nothing verified.")
        if len(self.ceo) == 1:
            spawns = [
                (
                    "spawn_agent",
                    {"role": "research", "task": f"task {n}: report", "model": WORKER_MODEL},
                )
                for n in ("a", "b")
            ]
            return tool_use_reply(spawns)
        return tool_use_reply([("wait_for_agents", {})])


async def test_the_run_budget_stops_everything_and_the_ceo_reports_without_tools(
    tmp_path: Path,
) -> None:
    plan = RunBudgetPlan()
    async with fault_run(tmp_path, plan, settings={"budget_usd": 0.01}) as run:  # type: ignore[arg-type]
        outcome = await run.finish(timeout_s=30)
        session = run.session
        reason = "the run's budget of $0.0100 was spent"
        assert outcome.status == "failed"
        assert session.error == reason
        assert outcome.result == "Budget spent: two reports were cut short; nothing verified."
        crossings = run.recorder.of(BudgetCrossed)
        run_level = [(c.level, c.limit) for c in crossings if c.agent_id is None]
        assert run_level == [("warn", 0.01), ("spent", 0.01)]
        for agent_id in ("research-1", "research-2"):
            record = session.supervisor.get(agent_id)
            assert (record.state, record.reason) == ("failed", reason)
            assert 0 < len(streamed(run, agent_id)) < 100 * 80  # cut mid-reply
        # The CEO heard of 80% once (its wait returned early), then had one last turn
        # without tools that saw why.
        final = plan.ceo[-1]
        assert final.body["tool_choice"] == {"type": "none"}
        assert sent(final).count("The run has used 80% of its budget") == 1
        assert "returned early: the run has used 80% of its budget" in sent(final)
        assert reason[1:] in sent(final) and "no tool can run now" in sent(final)
        assert len([r for r in plan.ceo if r.body.get("tool_choice")]) == 1
        # Spent when the estimate crossed $0.01: the run stopped within `stop_deltas` of
        # each worker (20 tokens, $0.0001 each) plus the CEO's last report (25 in, 12 out
        # at $4/$20).
        cost = session.total_cost()
        assert cost is not None
        slack = 2 * stop_deltas(session) * 20 * OUT
        assert 0.01 <= cost <= 0.01 + slack + 25 * 4e-6 + 12 * 20e-6 + 1e-9
        assert session.budget.ledger.spent_usd == pytest.approx(cost)
        # No new agent may start now: spawn_agent and retry_agent say why.
        with pytest.raises(SessionError, match=r"budget of \$0.0100 was spent"):
            session.spawn("research", "one more")
        with pytest.raises(ToolError, match="no new agent can start"):
            await session.ceo_tools._spawn({"role": "research", "task": "x"}, None)  # type: ignore[arg-type]
        with pytest.raises(ToolError, match="no new agent can start"):
            await session.ceo_tools._retry({"agent_id": "research-1"}, None)  # type: ignore[arg-type]
        finished = run.recorder.of(RunFinished)[-1]
        assert finished.status == "failed"
        notices = [n.text for n in run.recorder.of(Notice) if n.level == "error"]
        assert any("budget of $0.0100 was spent" in n for n in notices)
        assert {e.agent_id for e in run.recorder.of(AgentFinished)} >= {"research-1", "ceo"}
    assert plan.workers == 2


async def test_the_default_run_budget_is_on_and_shown(tmp_path: Path) -> None:
    assert DEFAULT_RUN_BUDGET_USD == 5.0 and Settings().budget_usd == 5.0

    class Plan:
        def __call__(self, request: RecordedRequest) -> Reply:
            return text_reply("All done.")

    async with fault_run(tmp_path, Plan()) as run:  # type: ignore[arg-type]
        await run.finish()
        started = run.recorder.of(RunStarted)[0]
        assert started.budget_usd == 5.0
        view = RunView()
        for event in run.recorder.events:
            view.apply(event)
        assert view.budget_usd == 5.0 and view.budget_level == ""
