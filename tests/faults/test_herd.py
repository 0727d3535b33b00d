"""Many agents rate-limited at once: jittered retries, bounded requests, the queue's order kept."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pytest

from core.events import CEO_ID, TERMINAL_STATES, AgentStateChanged, ApiRetry
from core.session import Session
from tests.fakeapi import http_error
from tests.faults.harness import Plan, Worker, agent_id, assert_recovered, fault_run

AGENTS = 12
CAP = 5
SDK_TRIES = 3


def _seeded(session: Session) -> None:
    # Every delay draws twice (retry-after is set), so the first draws are always the
    # same numbers whatever order the agents fail in: the spread below cannot flake.
    session.client.rng = random.Random(2024)


@pytest.mark.parametrize(
    ("retry_after_s", "base_delay_s", "low", "high"),
    [
        # retry-after below the backoff: uniform(0, 0.4) s, at least retry-after
        (0.05, 0.4, 0.05, 0.4),
        # retry-after above it: retry-after plus uniform(0, min(cap, retry-after / 2))
        (0.2, 0.1, 0.2, 0.3),
    ],
    ids=["backoff-wins", "retry-after-wins"],
)
async def test_many_agents_rate_limited_at_once_back_off_with_jitter(
    tmp_path: Path, retry_after_s: float, base_delay_s: float, low: float, high: float
) -> None:
    workers = [Worker(f"w{i:02d}") for i in range(1, AGENTS + 1)]
    plan = Plan(workers)
    limited = {"retry-after-ms": str(int(retry_after_s * 1000))}
    for w in workers:  # every SDK try of each worker's first turn is rate limited
        plan.fail(
            w.name,
            1,
            *[http_error(429, "rate_limit_error", "rate limited", limited) for _ in range(3)],
        )

    async with fault_run(
        tmp_path,
        plan,
        max_concurrent=CAP,
        retry_base_delay_s=base_delay_s,
        before_start=_seeded,
    ) as run:
        outcome = await run.finish(timeout_s=20)
        assert_recovered(run, outcome)
        ids = [agent_id(run, w) for w in workers]

        # No thundering herd: exactly the SDK's tries plus one turn retry per agent.
        worker_calls = [c for c in plan.calls if c.agent != CEO_ID]
        assert len(worker_calls) == AGENTS * (SDK_TRIES + 1)
        retries = [e for e in run.recorder.of(ApiRetry) if e.agent_id != CEO_ID]
        assert len(retries) == AGENTS
        assert all("rate limited (429 rate_limit_error)" in e.reason for e in retries)

        # Jitter: the delays differ, and the first wave (started together, limited
        # together) comes back spread over the window, not all at once.
        delays = [e.delay_s for e in retries]
        assert len(set(delays)) == AGENTS
        assert all(low <= d <= high for d in delays)
        assert statistics.pstdev(delays) > 0.1 * (high - low)
        first_wave = [w.name for w in workers[:CAP]]
        back = [c.request.at for c in worker_calls if c.agent in first_wave and c.try_no == 4]
        print(
            f"delays {sorted(round(d, 3) for d in delays)}; wave spread {max(back) - min(back):.3f}"
        )
        assert max(back) - min(back) > 0.25 * (high - low)

        # The cap held and the queue kept its order.
        running = 0
        peak = 0
        started: list[str] = []
        for e in run.recorder.of(AgentStateChanged):
            if e.agent_id == CEO_ID:
                continue
            if e.state == "running":
                running += 1
                started.append(e.agent_id)
            elif e.state in TERMINAL_STATES:
                running -= 1
            peak = max(peak, running)
        assert peak == CAP
        assert started == ids
        assert ids == [f"research-{i}" for i in range(1, AGENTS + 1)]
        await run.assert_stored()
