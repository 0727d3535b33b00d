"""Spreads the start of model requests over event-loop iterations when many come at once.

Starting a request is CPU work on the loop: the SDK copies and encodes the whole
conversation, builds the HTTP request, and (in-process) the simulator builds its reply.
About 1 ms through the SDK and the simulator at 1000 agents. Agents whose turns end
together (hundreds of them, when their replies are equally long) all start their next
request in the same iteration, and the loop would stall for the sum: no stream event,
key or timer handled meanwhile. The pacer lets as many starts run per iteration as fit
in a slice of loop time (by their cost measured so far), and the rest wait for the next
iterations, with the loop's I/O handled in between. One start alone never waits.

The slice is at least `budget_s`, and while starts wait it grows to `share` of the time
the last iteration took (at most `max_slice_s`): when the rest of an iteration is long
(a thousand streams to read, or a busy machine that takes the core away), waiting
starts still get their share of the loop instead of a fixed 4 ms per iteration, which
at 1000 agents left them 15% of it and kept agents idle in the queue for seconds. A
start waiting costs the agent its wall time (the model has not begun), while a stream
read a little late costs nothing (its events wait in the buffer and are read together).

The cost of a start is measured on the starts a tick released: they run one after the
other at the head of the next iteration, so the time from the first of them to the
next tick is their synchronous part (up to where each waits on the network), the only
part that holds the loop.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

BUDGET_S = 0.004  # request starts per loop iteration at least, in seconds of their cost
SHARE = 0.5  # while starts wait: of the last iteration's time, they get this much
MAX_SLICE_S = 0.02  # and at most this in one iteration (the loop's lag stays bounded)
MAX_COST_S = 0.01  # one start is counted as this at most (a collection during a batch)
FIRST_COST_S = 0.0005  # the estimate before anything was measured


class RequestPacer:
    """`async with pacer.slot():` around the synchronous start of a request."""

    def __init__(
        self,
        budget_s: float = BUDGET_S,
        share: float = SHARE,
        max_slice_s: float = MAX_SLICE_S,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.budget_s = budget_s
        self.clock = clock
        self.share = share
        self.max_slice_s = max(max_slice_s, budget_s)
        self.cost_s = FIRST_COST_S  # moving estimate of one start's synchronous part
        self._spent = 0.0  # in this iteration, by starts that did not wait
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()
        self._tick_armed = False
        self._last_tick = 0.0  # when the last tick ran while starts waited (0: none)
        self._released = 0  # starts the last tick released, to run next
        self._batch_started = 0.0  # when the first of them ran (0: none yet)
        self.waited = 0  # starts that waited for a later iteration (for tests and benches)
        self.ticks = 0  # iterations that released waiting starts (for tests and benches)

    def slot(self) -> _Slot:
        return _Slot(self)

    async def _enter(self) -> None:
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
            if not self._batch_started:
                self._batch_started = self.clock()
            return
        self._arm(loop)
        self._spent += self.cost_s

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._tick_armed:
            self._tick_armed = True
            loop.call_soon(self._tick)

    def _measure(self, now: float) -> None:
        """The starts released by the last tick ran between `_batch_started` and now."""
        if self._released and self._batch_started:
            cost = min((now - self._batch_started) / self._released, MAX_COST_S)
            self.cost_s += (cost - self.cost_s) * 0.3
        self._released = 0
        self._batch_started = 0.0

    def _slice(self, now: float) -> float:
        """The loop time the waiting starts may take in the next iteration."""
        if not self._last_tick:
            return self.budget_s
        return min(self.max_slice_s, max(self.budget_s, self.share * (now - self._last_tick)))

    def _tick(self) -> None:
        """A later iteration: the next waiters that fit in a slice (they run at the head
        of the iteration after this one, one after the other)."""
        self._tick_armed = False
        now = self.clock()
        self._measure(now)
        self._spent = 0.0
        room = self._slice(now)
        released = 0
        while self._waiting and (room >= self.cost_s or released == 0):
            future = self._waiting.popleft()
            if future.done():
                continue
            future.set_result(None)
            room -= self.cost_s
            released += 1
        self._released = released
        if released:
            self.ticks += 1
        if self._waiting or released:
            # Once more after the released ones ran: to measure them, and the next slice.
            self._last_tick = now
            self._arm(asyncio.get_running_loop())
        else:
            self._last_tick = 0.0


class _Slot:
    __slots__ = ("_pacer",)

    def __init__(self, pacer: RequestPacer) -> None:
        self._pacer = pacer

    async def __aenter__(self) -> None:
        await self._pacer._enter()

    async def __aexit__(self, *exc: object) -> None:
        return None
