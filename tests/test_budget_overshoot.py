"""How far past the run's budget a stop lands: one delta per worker in this process, a
few on Temporal (tests/test_session_temporal.py runs this again with the agents there,
where the running cost reaches the session as it streams and the stop reaches the reply
through the event hub, not with the next heartbeat)."""

from __future__ import annotations

from pathlib import Path

from core.events import BudgetCrossed
from tests.faults.harness import fault_run
from tests.test_limits_budget import OUT, RunBudgetPlan, stop_deltas, streamed

BUDGET = 0.01
DELTA_USD = 20 * OUT  # one streamed delta: 80 characters, 20 output tokens by estimate
CEO_REPORT_USD = 25 * 4e-6 + 12 * 20e-6  # its last turn, after the stop (25 in, 12 out)


async def test_the_run_budget_stops_its_agents_within_a_few_deltas(tmp_path: Path) -> None:
    plan = RunBudgetPlan()
    async with fault_run(tmp_path, plan, settings={"budget_usd": BUDGET}) as run:  # type: ignore[arg-type]
        await run.finish(timeout_s=30)
        session = run.session
        spent = [c for c in run.recorder.of(BudgetCrossed) if c.agent_id is None]
        assert [c.level for c in spent] == ["warn", "spent"]
        workers = ("research-1", "research-2")
        overshoot = session.total_cost() - BUDGET
        print(f"overshoot ${overshoot:.6f} ({overshoot / DELTA_USD:.1f} deltas' worth)")
        for agent_id in workers:
            assert 0 < len(streamed(run, agent_id)) < 100 * 80  # cut mid-reply
        # Each worker stopped within `stop_deltas` of the crossing (they stream one each
        # 5 ms): on Temporal that was 75 deltas, the stop a heartbeat behind the budget.
        assert 0 <= overshoot <= 2 * stop_deltas(session) * DELTA_USD + CEO_REPORT_USD + 1e-9
