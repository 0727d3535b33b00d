"""The run's dollar budget, enforced by the engine (the CEO does not get to decide).

At 80% the CEO is told once and a warning is shown. At 100%: no new agent may start
(spawn_agent and retry_agent return a tool error saying why), every running agent is
stopped (`failed`, with the reason), and the Session gives the CEO one last turn
without tools to report; the run ends `failed` with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from core.cost_meter import WARN_AT, Crossing, RunLedger
from core.events import BudgetCrossed, Event, Notice
from core.supervisor import Supervisor


class RunBudget:
    def __init__(
        self,
        *,
        run_id: str,
        budget_usd: float | None,
        emit: Callable[[Event], None],
        supervisor: Supervisor,
        tell_ceo: Callable[[str], None],
        stop_ceo: Callable[[str], None],
    ) -> None:
        self.run_id = run_id
        self.ledger = RunLedger(budget_usd, self._crossed)
        self.emit = emit
        self.supervisor = supervisor
        self.tell_ceo = tell_ceo
        self.stop_ceo = stop_ceo
        self.reason: str | None = None  # set once the budget is spent
        self._stopper: asyncio.Task[None] | None = None

    @property
    def limit_usd(self) -> float | None:
        return self.ledger.limit.limit if self.ledger.limit is not None else None

    def _crossed(self, crossing: Crossing, ledger: RunLedger) -> None:
        limit = ledger.limit
        assert limit is not None
        spent = ledger.spent_usd
        self.emit(
            BudgetCrossed(
                run_id=self.run_id,
                level=crossing,
                unit="usd",
                spent=round(spent, 6),
                limit=limit.limit,
            )
        )
        if crossing == "warn":
            text = f"The run has used {WARN_AT:.0%} of its budget ({limit.describe(spent)})."
            self.emit(Notice(run_id=self.run_id, level="warning", text=text))
            self.tell_ceo(
                f"[system] {text} Finish the essential work now: start no new agents unless "
                "they are needed, and report soon. At 100% every agent is stopped."
            )
            return
        self.reason = f"the run's budget of {limit.describe()} was spent"
        self.supervisor.refuse_spawns = f"{self.reason}: no new agent can start"
        self.emit(Notice(run_id=self.run_id, level="error", text=self.reason[0].upper() +
                         self.reason[1:] + ": every agent is being stopped."))  # fmt: skip
        self._stopper = asyncio.get_running_loop().create_task(self._stop(), name="budget-stop")

    async def _stop(self) -> None:
        reason = self.reason or "the run's budget was spent"
        live = [r.agent_id for r in self.supervisor.active()]
        await asyncio.gather(
            *(self.supervisor.kill(agent_id, "failed", reason) for agent_id in live),
            return_exceptions=True,
        )
        self.stop_ceo(reason)
