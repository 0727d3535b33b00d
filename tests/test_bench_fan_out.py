"""The fan-out benchmark's figures, shared by the local and the Temporal runner's tables."""

from __future__ import annotations

from bench.orchestration import REPLY_S, FanOut, TimedSimulator, fan_out_row
from core.events import CEO_ID, AgentFinished, AgentSpawned, Event


def _spawn(agent_id: str, ts: float) -> AgentSpawned:
    return AgentSpawned(run_id="r", agent_id=agent_id, ts=ts, role="research", model="m",
                        task=f"task {agent_id}")  # fmt: skip


def _end(agent_id: str, ts: float, state: str = "done") -> AgentFinished:
    return AgentFinished(run_id="r", agent_id=agent_id, ts=ts, state=state,  # type: ignore[arg-type]
                         result="", elapsed_s=1.0)  # fmt: skip


def test_wall_ideal_and_spawn_to_request_leave_the_ceo_out() -> None:
    sim = TimedSimulator(FanOut(3), latency_s=REPLY_S)
    sim.first_request.update({"task a": 10.010, "task b": 10.030})  # c never asked
    events: list[Event] = [
        _spawn(CEO_ID, 0.0),
        _spawn("a", 10.0),
        _spawn("b", 10.0),
        _spawn("c", 10.5),
        _end("a", 11.0),
        _end("b", 12.0, "failed"),
        _end("c", 12.5),
        _end(CEO_ID, 20.0),
    ]
    row = fan_out_row(events, sim, agents=3, cap=2, status="done")
    assert row["wall_s"] == 2.5  # first sub-agent spawn to last sub-agent end
    assert row["ideal_s"] == 2 * REPLY_S  # ceil(3 / 2) replies
    assert row["overhead_pct"] == 25.0
    assert row["efficiency"] == 0.8
    assert row["done"] == 2
    assert row["spawn_to_request_p50_ms"] == 20.0  # of a (10 ms) and b (30 ms) only
    assert row["spawn_to_request_p99_ms"] == 29.8
