"""One agent summary type: the live record, the TUI's view and the store's row agree.

A simulated run to its end with the TUI's view model on the bus; then each agent's
summary from the Supervisor's record, from the view (as of the run's end) and the
store's row are the same value, and the `--json` summary is the row's `contract`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from core.agent_summary import AgentSummary
from core.session_life import open_session
from tests.tui_support import sim_settings
from tui.view_model import RunView


def _summary_of(row: AgentSummary) -> AgentSummary:
    """The summary fields of a store row (which carries more)."""
    return AgentSummary(**{f.name: getattr(row, f.name) for f in dataclasses.fields(AgentSummary)})


def _rounded(summary: AgentSummary) -> AgentSummary:
    """Equal up to float sums in another order; the time is compared apart: the record's
    own clock (monotonic) and the view's (event timestamps) tell it apart by a little."""
    cost = summary.cost_usd
    return dataclasses.replace(
        summary, cost_usd=None if cost is None else round(cost, 9), elapsed_s=None
    )


async def test_the_record_the_view_and_the_store_give_one_summary(tmp_path: Path) -> None:
    settings = sim_settings(tmp_path)
    view = RunView()
    async with open_session(settings) as session:
        session.bus.subscribe(view.apply)
        session.start("Research competitors and write a report")
        await asyncio.wait_for(session.wait_finished(), 60)
        await session.close()
        records = session.records
        assert records is not None
        await records.flush()
        rows = list(await records.agents(session.run_id))
        summary = await records.run_summary(session.run_id)
        live = {r.agent_id: r.summary() for r in session.agents()}

    subs = [r for r in rows if r.agent_id != "ceo"]
    assert len(subs) >= 2 and all(r.finished for r in subs)
    everyone = {**view.agents, **({"ceo": view.ceo} if view.ceo else {})}
    assert set(everyone) == {r.agent_id for r in rows}
    for row in rows:
        # the row carries more (what only the store keeps); the summary fields match
        stored = _summary_of(row)
        shown = everyone[row.agent_id].summary(view.last_ts)
        assert _rounded(shown) == _rounded(stored), row.agent_id
        if row.agent_id in live:  # the CEO runs beside the Supervisor
            assert _rounded(live[row.agent_id]) == _rounded(stored), row.agent_id
        assert shown.elapsed_s == pytest.approx(stored.elapsed_s, abs=0.5)
        if row.agent_id in live:
            assert live[row.agent_id].elapsed_s == pytest.approx(stored.elapsed_s, abs=0.05)
    assert set(live) == {r.agent_id for r in subs}
    contract = [{k: v for k, v in a.items() if k != "evidence"} for a in summary["agents"]]
    assert contract == [r.contract() for r in rows]
