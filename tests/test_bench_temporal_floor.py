"""Temporal's floor (bench.temporal_floor), which bench.orchestration --runner temporal
runs beside each of its cases: its efficiency and the same phases as the attempts'."""

from __future__ import annotations

from tests.temporal_support import temporal_address, unique_prefix

__all__ = ["temporal_address"]


async def test_the_floor_times_its_workflows_in_the_attempts_phases(temporal_address: str) -> None:
    from temporalio.client import Client

    from bench.temporal_floor import TURN_S, fan_out, floor_worker
    from bench.temporal_phases import PHASES

    client = await Client.connect(temporal_address)
    queue = unique_prefix() + "floor"
    async with floor_worker(client, queue):
        row = await fan_out(client, 3, 2, None, queue)
    assert (row["agents"], row["cap"], row["ideal_s"]) == (3, 2, 2 * TURN_S)
    assert row["wall_s"] >= 2 * TURN_S  # two waves of one-second activities
    # Both are rounded to 3 places from the unrounded wall: they agree to a rounding step.
    assert abs(row["efficiency"] - row["ideal_s"] / row["wall_s"]) <= 0.0015
    assert row["client_worker_runq_wait_s"] >= 0 and row["server_runq_wait_s"] is None
    phases = row["phases"]
    assert set(phases) == set(PHASES)
    assert phases["turn"]["p50_ms"] >= TURN_S * 1000 - 50  # the activity's own second
    assert all(p["p99_ms"] >= p["p50_ms"] >= 0 for p in phases.values())
