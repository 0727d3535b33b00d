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


class FakeClock:
    """The pacer's clock, moved only by the work the test says is done: the figures do
    not depend on how loaded the machine is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def work(self, seconds: float) -> None:
        self.now += seconds


async def _burst_with_busy_loop(
    pacer: RequestPacer, clock: FakeClock, n: int, cost_s: float, other_s: float
) -> int:
    """n starts at once while every loop iteration also does `other_s` of other work
    (a thousand streams to read); returns the iterations the burst took."""
    iterations = 0
    stop = False

    async def other_work() -> None:
        nonlocal iterations
        while not stop:
            clock.work(other_s)
            iterations += 1
            await asyncio.sleep(0)

    async def start() -> None:
        async with pacer.slot():
            clock.work(cost_s)

    busy = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    await asyncio.gather(*(start() for _ in range(n)))
    stop = True
    await busy
    return iterations


async def test_waiting_starts_get_their_share_of_a_busy_loop() -> None:
    # 300 starts of 0.5 ms (150 ms of work) while each iteration does 8 ms of other
    # work. With a fixed 4 ms of starts per iteration they would take 40 iterations (a
    # third of the loop); with half of each iteration they take about 25.
    clock = FakeClock()
    pacer = RequestPacer(clock=clock)
    iterations = await _burst_with_busy_loop(pacer, clock, 300, 0.0005, 0.008)
    assert pacer.waited > 250
    assert iterations <= 30, iterations
    # ...and a slice stays bounded (20 ms), so the burst still takes several iterations.
    assert pacer.ticks >= 0.15 / pacer.max_slice_s, pacer.ticks


async def test_a_slice_is_at_most_max_slice_however_long_the_iterations() -> None:
    # A machine so busy that every iteration takes 200 ms: the starts get 20 ms of it,
    # so the loop's lag grows by 20 ms, not by the 100 ms that half of it would be.
    clock = FakeClock()
    pacer = RequestPacer(clock=clock)
    await _burst_with_busy_loop(pacer, clock, 200, 0.001, 0.2)
    # (the first slices hold a few more: the estimate starts at 0.5 ms, and follows)
    assert 200 * 0.001 / pacer.max_slice_s - 2 <= pacer.ticks <= 200 * 0.001 / 0.019 + 2


async def test_a_start_is_counted_at_its_own_cost_above_a_millisecond() -> None:
    # 2 ms starts (the SDK and the in-process simulator, at a large conversation): the
    # estimate follows them, so a 4 ms slice holds two, not four (an 8 ms iteration).
    clock = FakeClock()
    pacer = RequestPacer(clock=clock)
    await _burst_with_busy_loop(pacer, clock, 60, 0.002, 0.0)
    assert 0.0018 <= pacer.cost_s <= 0.0022, pacer.cost_s


async def test_the_network_wait_inside_a_start_is_not_counted_as_its_cost() -> None:
    # A start whose synchronous part is 0.3 ms, then a wait on the server: only the
    # 0.3 ms holds the loop, and only that is counted.
    clock = FakeClock()
    pacer = RequestPacer(clock=clock)

    async def start() -> None:
        async with pacer.slot():
            clock.work(0.0003)
            await asyncio.sleep(0.001)
            clock.work(0.05)  # the rest of the loop, while this one waited

    await asyncio.gather(*(start() for _ in range(200)))
    assert pacer.waited > 100
    assert 0.00025 <= pacer.cost_s <= 0.00035, pacer.cost_s


async def test_a_turn_cancelled_while_its_start_waits_leaves_no_request_behind() -> None:
    # 40 agents' turns end together; the run is stopped while most of their starts wait
    # in the pacer. None of them had made its request yet, so none is left made and
    # never sent (Python would warn "coroutine ... was never awaited" when it is freed).
    import gc
    import warnings

    from core.llm import ModelClient, TurnRequest, make_client
    from core.simulator import Simulator, SimulatorTransport
    from tests.test_llm import RecordingSink

    sim = Simulator("load:agents=40,tps=1000,seconds=1", latency_s=0.0)
    sdk = make_client("simulator", "http://simulator.invalid", transport=SimulatorTransport(sim))
    model = ModelClient(sdk, retries=0)
    model.pacer.cost_s = model.pacer.budget_s  # one start per iteration: the rest wait
    turn = TurnRequest(
        model="claude-haiku-5-5",
        system="You are a worker.",
        messages=[{"role": "user", "content": "Load task 1: stream a long status report."}],
        tools=[],
        max_tokens=256,
    )
    tasks = [asyncio.create_task(model.stream_turn(turn, RecordingSink())) for _ in range(40)]
    await asyncio.sleep(0)
    assert len(model.pacer._waiting) > 30
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    await sdk.close()
