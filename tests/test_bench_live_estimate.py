"""bench.live_estimate's arithmetic on events with fixed timestamps."""

from __future__ import annotations

from bench.live_estimate import Record, shown_errors, summarise, windows
from core.events import AgentSpawned, Event, TurnEnded, TurnStarted, UsageUpdated


def _usage(ts: float, out: int, estimated: bool = False) -> UsageUpdated:
    return UsageUpdated(
        run_id="r", agent_id="a", ts=ts, attempt=1, input_tokens=10, output_tokens=out,
        cache_read_tokens=0, cache_write_tokens=0, cost_usd=0.0, estimated=estimated,
    )  # fmt: skip


EVENTS: list[Event] = [
    AgentSpawned(run_id="r", agent_id="a", ts=0.0, role="coding", model="m", task="t"),
    TurnStarted(run_id="r", agent_id="a", ts=1.0, turn=1, model="m"),
    _usage(1.5, 1),
    _usage(2.0, 40, estimated=True),
    _usage(3.0, 90, estimated=True),
    _usage(3.5, 100),  # the final report of turn 1
    TurnEnded(run_id="r", agent_id="a", ts=3.5, turn=1, stop_reason="tool_use"),
    TurnStarted(run_id="r", agent_id="a", ts=4.0, turn=2, model="m"),
    _usage(4.5, 101),
    _usage(5.0, 150, estimated=True),
    _usage(5.5, 200),
    TurnEnded(run_id="r", agent_id="a", ts=5.5, turn=2, stop_reason="end_turn"),
]


def test_windows_run_from_the_first_report_to_the_turn_end() -> None:
    assert windows(EVENTS) == {"a": [(1.5, 3.5), (4.5, 5.5)]}


def test_shown_error_is_the_last_estimate_against_the_turns_own_final_count() -> None:
    assert shown_errors(EVENTS) == [-10.0, -50.0]  # turn 2: 50 of its 100


def test_summary_counts_pane_changes_per_second_of_streaming() -> None:
    record = Record(estimates=[(105, 100), (100, 100)], events=EVENTS)
    draws = [(2.0, "out ~40", "x"), (3.0, "out ~90", "x"), (5.0, "out ~150", "y"), (9.0, "z", "")]
    record.draws["a"] = draws
    result = summarise([record])
    assert result["estimate_error_pct"] == {"n": 2, "min": 0.0, "median": 2.5, "max": 5.0}
    # Streaming 3 s; the usage line changed twice inside (the draw at 9.0 is after it).
    assert result["pane_usage_updates_per_s"]["median"] == round(2 / 3, 2)
    assert result["pane_tail_updates_per_s"]["median"] == round(1 / 3, 2)
    assert result["usage_events_per_s"]["median"] == round(7 / 3, 2)
