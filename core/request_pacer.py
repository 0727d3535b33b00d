"""Spreads the start of model requests over event-loop iterations when many come at once.

Starting a request is CPU work on the loop: the SDK copies and encodes the whole
conversation, builds the HTTP request, and (in-process) the simulator builds its reply.
About 0.7 ms through the SDK for a 30 kB conversation. Agents whose turns end together
(hundreds of them, when their replies are equally long) all start their next request in
the same iteration, and the loop stalls for the sum: no stream event, key or timer is
handled meanwhile. The pacer lets as many starts run per iteration as fit in
`budget_s` (by the cost measured so far), and the rest wait for the next iterations, with
the loop's I/O handled in between. One start alone never waits; the total work is the
same, so a lockstep burst is spread over about the time it would have stalled the loop.
"""

from __future__ import annotations

import asyncio
import collections
import time

BUDGET_S = 0.004  # request starts per loop iteration, in seconds of their measured cost
MAX_COST_S = BUDGET_S / 4  # a start that waited on the network is counted as this at most


class RequestPacer:
    """`async with pacer.slot():` around the synchronous start of a request."""

    def __init__(self, budget_s: float = BUDGET_S) -> None:
        self.budget_s = budget_s
        self.cost_s = MAX_COST_S / 2  # moving estimate of one start
        self._spent = 0.0  # in this iteration
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._tick_armed = False
        self.waited = 0  # starts that waited for a later iteration (for tests and benches)

    def slot(self) -> _Slot:
        return _Slot(self)

    async def _enter(self) -> float:
        loop = asyncio.get_running_loop()
        if self._waiting or self._spent + self.cost_s > self.budget_s:
            self.waited += 1
            future: asyncio.Future[None] = loop.create_future()
            self._waiting.append(future)
            self._arm(loop)
            try:
                await future
            except asyncio.CancelledError:
                if future in self._waiting:
                    self._waiting.remove(future)
                raise
        self._arm(loop)
        self._spent += self.cost_s  # reserved now; corrected by `_leave`
        return time.perf_counter()

    def _leave(self, started: float) -> None:
        cost = min(time.perf_counter() - started, MAX_COST_S)
        self._spent += cost - self.cost_s
        self.cost_s += (cost - self.cost_s) * 0.2

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._tick_armed:
            self._tick_armed = True
            loop.call_soon(self._tick)

    def _tick(self) -> None:
        """A later iteration: a fresh budget, and the next waiters that fit in it (they run
        in the iteration after this one, each charging as it goes)."""
        self._tick_armed = False
        self._spent = 0.0
        room = self.budget_s
        released = 0
        while self._waiting and (room >= self.cost_s or released == 0):
            future = self._waiting.popleft()
            if future.done():
                continue
            future.set_result(None)
            room -= self.cost_s
            released += 1
        if self._waiting:
            self._arm(asyncio.get_running_loop())


class _Slot:
    __slots__ = ("_pacer", "_started")

    def __init__(self, pacer: RequestPacer) -> None:
        self._pacer = pacer
        self._started = 0.0

    async def __aenter__(self) -> None:
        self._started = await self._pacer._enter()

    async def __aexit__(self, *exc: object) -> None:
        self._pacer._leave(self._started)
