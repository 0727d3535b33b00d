"""The Session's own suites again with its sub-agents on Temporal: the CEO's loop with
its tools, denials, checks (tests/test_session.py), the budgets, the run's included,
stopping agents mid-reply (tests/test_limits_budget.py), and commands waiting for the
operator's approval (tests/test_session_approvals.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.events import CEO_ID, AgentFinished, BudgetCrossed, Notice, RunFinished
from core.local_runner import LocalRunner
from core.runner import AgentRunner
from core.session import Session, SessionError
from core.tools.base import ToolError
from tests.fakeapi import RecordedRequest, Reply
from tests.faults.harness import agent_of, fault_run
from tests.limits_support import long_text, slow
from tests.temporal_support import conversations, temporal_address, unique_prefix
from tests.test_limits_budget import *  # noqa: F403  (every test there runs here again)
from tests.test_limits_budget import IN, OUT, RunBudgetPlan, sent, streamed
from tests.test_session import *  # noqa: F403
from tests.test_session_approvals import *  # noqa: F403

__all__ = ["temporal_address"]


@pytest.fixture(autouse=True)
async def on_temporal(
    monkeypatch: pytest.MonkeyPatch, temporal_address: str, tmp_path: Path
) -> AsyncIterator[list[Any]]:
    """Every Session in this module runs its sub-agents through a TemporalRunner (a
    worker in this process, on the module's dev server); the CEO stays local."""
    from core.temporal.runner import TemporalOptions, TemporalRunner

    made: list[Any] = []

    def agent_runner(self: Session) -> AgentRunner:
        runner = TemporalRunner(
            settings=self.settings,
            emit=self.emit,
            local=LocalRunner(self._make_agent, self.emit),
            client=lambda: self.client,
            options=TemporalOptions(
                address=temporal_address,
                local_worker=True,
                conversations=conversations(tmp_path),
                id_prefix=unique_prefix(),
            ),
            ledger=lambda: self.budget.ledger,
            notify=self._tell_ceo,
            approvals=lambda: self.approvals,
        )
        made.append(runner)
        return runner

    monkeypatch.setattr(Session, "_agent_runner", agent_runner)
    yield made
    for runner in made:
        await runner.aclose()


async def test_the_run_budget_stops_everything_and_the_ceo_reports_without_tools(
    tmp_path: Path,
) -> None:
    """Here in place of tests/test_limits_budget.py's own: the same run, every check the
    same but how far past the budget the stop lands (see the cost below), and replies
    streamed ten times slower (5 s), so that the stop lands mid-reply on a loaded machine."""
    plan = SlowerRunBudgetPlan()
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
        # Spent when the estimate crossed $0.01. Here a stop reaches a reply on its worker
        # 0.1-0.6 s later (signal, workflow task, heartbeat), and these replies stream in
        # 0.5 s: the bound is that the replies were cut, not one delta past the budget.
        cost = session.total_cost()
        assert cost is not None
        uncut = 2 * (1000 * IN + 2000 * OUT)
        assert 0.01 <= cost < uncut
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


class SlowerRunBudgetPlan(RunBudgetPlan):
    def __call__(self, request: RecordedRequest) -> Reply:
        if agent_of(request) != CEO_ID:
            self.workers += 1
            return slow(long_text(100, input_tokens=1000, output_tokens=2000), pause_s=0.05)
        return super().__call__(request)


def test_sessions_here_run_on_temporal(tmp_path: Path, on_temporal: list[Any]) -> None:
    from core.config import Settings

    Session(Settings(workspace=tmp_path, simulate=True))
    assert type(on_temporal[0]).__name__ == "TemporalRunner"
