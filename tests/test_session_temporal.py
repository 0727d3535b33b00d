"""The Session's own suites again with its sub-agents on Temporal: the CEO's loop with
its tools, denials, checks (tests/test_session.py), the budgets, the run's included,
stopping agents mid-reply (tests/test_limits_budget.py), and commands waiting for the
operator's approval (tests/test_session_approvals.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.local_runner import LocalRunner
from core.runner import AgentRunner
from core.session import Session
from tests.temporal_support import conversations, temporal_address, unique_prefix
from tests.test_budget_overshoot import *  # noqa: F403
from tests.test_limits_budget import *  # noqa: F403  (every test there runs here again)
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


def test_sessions_here_run_on_temporal(tmp_path: Path, on_temporal: list[Any]) -> None:
    from core.config import Settings

    Session(Settings(workspace=tmp_path, simulate=True))
    assert type(on_temporal[0]).__name__ == "TemporalRunner"
