"""Plays recorded events into a RunView at a chosen speed, with pause and jump-to-end."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from core.events import Event
from tui.view_model import RunView

SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
MAX_GAP_S = 2.0  # long idle stretches are shortened to this (recorded time)


class ReplayFeed:
    """Virtual clock over recorded timestamps; `now()` drives the panes' clocks."""

    def __init__(
        self,
        events: Sequence[Event],
        view: RunView,
        *,
        speed: float = 4.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.events = list(events)
        self.view = view
        self.speed = speed
        self.paused = False
        self.position = 0
        self.on_change = on_change
        self._resume = asyncio.Event()
        self._resume.set()
        self._task: asyncio.Task[None] | None = None
        self._virtual = self.events[0].ts if self.events else time.time()

    @property
    def done(self) -> bool:
        return self.position >= len(self.events)

    @property
    def label(self) -> str:
        state = "done" if self.done else f"{self.position}/{len(self.events)}"
        return f"×{self.speed:g} {state}"

    def now(self) -> float:
        return self._virtual

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="replay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def toggle_pause(self) -> bool:
        self.paused = not self.paused
        if self.paused:
            self._resume.clear()
        else:
            self._resume.set()
        self._changed()
        return self.paused

    def faster(self) -> float:
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])
        self._changed()
        return self.speed

    def slower(self) -> float:
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])
        self._changed()
        return self.speed

    def skip_to_end(self) -> None:
        while not self.done:
            self._step()
        self._changed()

    def _step(self) -> None:
        event = self.events[self.position]
        self.position += 1
        self._virtual = max(self._virtual, event.ts)
        self.view.apply(event)

    def _changed(self) -> None:
        self.view.dirty_run = True
        if self.on_change is not None:
            self.on_change()

    async def _run(self) -> None:
        tick = 0.05
        while not self.done:
            await self._resume.wait()
            budget = tick * self.speed
            target = self._virtual + budget
            while not self.done and self.events[self.position].ts <= target:
                self._step()
            if not self.done:
                gap = self.events[self.position].ts - target
                self._virtual = target if gap <= MAX_GAP_S else self.events[self.position].ts
            self.view.dirty_run = True
            await asyncio.sleep(tick)
        self._changed()
