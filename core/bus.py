"""Fan-out of events to subscribers. Publishing never blocks and never awaits.

Two kinds of subscriber:
- callbacks, called inline in publish order; they must be cheap and must not raise
  (the store enqueues, the TUI posts a message);
- async streams with a bounded buffer; when a slow consumer's buffer is full the
  oldest events are dropped and counted, so a stalled reader cannot grow memory
  or hold up the agents.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import AsyncIterator, Callable

from core.events import Event

log = logging.getLogger(__name__)

Callback = Callable[[Event], None]


class Subscription:
    """An async iterator over events published after it was created."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._buffer: collections.deque[Event] = collections.deque(maxlen=maxsize)
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def _push(self, event: Event) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(event)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()
        self._bus._streams.discard(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._buffer.popleft()


class EventBus:
    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._streams: set[Subscription] = set()
        self.published = 0

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call `callback` for every event; returns a function that unsubscribes."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def stream(self, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._streams.add(sub)
        return sub

    def publish(self, event: Event) -> None:
        self.published += 1
        for callback in tuple(self._callbacks):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the run
                log.exception("event subscriber failed on %s", event.kind)
        for sub in tuple(self._streams):
            sub._push(event)

    def close(self) -> None:
        for sub in tuple(self._streams):
            sub.close()
