"""Request starts spread over loop iterations (core/request_pacer.py): a lockstep burst
of turn ends does not stall the loop, one start alone never waits, nothing is lost."""

from __future__ import annotations

import asyncio
import time

from core.request_pacer import RequestPacer

COST_S = 0.001  # the synchronous work of one request start, done as a busy wait


def _work(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def _burst(pacer: RequestPacer | None, n: int) -> tuple[list[int], float, float]:
    """n starts at once; returns the order they ran in, the loop's longest gap between
    two iterations meanwhile, and the burst's process CPU time."""
    done: list[int] = []
    gaps: list[float] = []
    stop = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not stop:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    async def start(i: int) -> None:
        if pacer is None:
            _work(COST_S)
        else:
            async with pacer.slot():
                _work(COST_S)
        done.append(i)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    t0 = time.process_time()
    await asyncio.gather(*(start(i) for i in range(n)))
    cpu = time.process_time() - t0
    stop = True
    await tick
    return done, max(gaps), cpu


async def test_a_lockstep_burst_is_spread_and_the_loop_keeps_turning() -> None:
    n = 200
    _, unpaced_gap, unpaced_cpu = await _burst(None, n)
    pacer = RequestPacer()
    done, gap, cpu = await _burst(pacer, n)
    assert done == list(range(n))  # all of them, first come first served
    assert unpaced_gap >= n * COST_S * 0.9  # the stall it prevents
    assert gap < unpaced_gap / 2, (gap, unpaced_gap)  # ~5 ms against ~200 ms, quiet
    assert pacer.waited > n / 2
    assert cpu < unpaced_cpu * 2  # spread, not more work


async def test_one_start_alone_never_waits() -> None:
    pacer = RequestPacer()
    for _ in range(5):
        async with pacer.slot():
            _work(COST_S)
        await asyncio.sleep(0.001)
    assert pacer.waited == 0


async def test_a_cancelled_waiting_start_leaves_the_others_going() -> None:
    pacer = RequestPacer(budget_s=COST_S)
    ran: list[int] = []

    async def start(i: int) -> None:
        async with pacer.slot():
            _work(COST_S)
            ran.append(i)

    tasks = [asyncio.create_task(start(i)) for i in range(6)]
    await asyncio.sleep(0)  # all entered; the first ran, the others wait
    tasks[3].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[3].cancelled()
    assert ran == [0, 1, 2, 4, 5]
    assert not pacer._waiting
