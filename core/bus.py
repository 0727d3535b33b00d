"""Fan-out of events to subscribers. Publishing never blocks and never awaits.

Two kinds of subscriber:
- callbacks, called inline in publish order; they must be cheap and must not raise
  (the store enqueues, the TUI posts a message);
- async streams with a bounded buffer; when a slow consumer's buffer is full the
  oldest events are dropped and counted, so a stalled reader cannot grow memory
  or hold up the agents.

Text deltas are coalesced per loop iteration, where no subscriber can see the difference:
consecutive `TextDelta` (or `ThinkingDelta`) events of one agent and turn, published in
the same iteration of the event loop with no other event of that agent between them, are
delivered as ONE event (texts joined, the first one's timestamp) when the iteration's
callbacks have run, or at once before any other event (so every other event keeps its
place). A reply that arrives many events per read then costs its subscribers one event
per read. Only the chunking of each agent's text and the interleaving of different
agents' deltas within one iteration change (as in the store's rows). Outside a running
loop every event is delivered at once.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable

from core.events import Event, TextDelta, ThinkingDelta

log = logging.getLogger(__name__)

Callback = Callable[[Event], None]
Delta = TextDelta | ThinkingDelta
_DELTAS = (TextDelta, ThinkingDelta)


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
        self.published = 0  # events handed to `publish`
        self.delivered = 0  # events delivered (deltas coalesced)
        # Deltas of this loop iteration, in order, each with the texts merged into it,
        # and per agent the index of its delta that the next one of the same kind and
        # turn joins.
        self._pending: list[tuple[Delta, list[str]]] = []
        self._open: dict[str | None, int] = {}
        self._flush: asyncio.Handle | None = None

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
        if isinstance(event, _DELTAS):
            index = self._open.get(event.agent_id)
            if index is not None:
                first, texts = self._pending[index]
                if type(first) is type(event) and first.turn == event.turn:
                    texts.append(event.text)
                    return
            if self._flush is None:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:
                    self._deliver(event)
                    return
                self._flush = loop.call_soon(self.flush)
            self._open[event.agent_id] = len(self._pending)
            self._pending.append((event, [event.text]))
            return
        if self._pending:
            self.flush()
        self._deliver(event)

    def flush(self) -> None:
        """Deliver the deltas held for this iteration now (also run by the loop after it)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        pending, self._pending = self._pending, []
        self._open.clear()
        for first, texts in pending:
            if len(texts) == 1:
                self._deliver(first)
            else:
                self._deliver(dataclasses.replace(first, text="".join(texts)))

    def _deliver(self, event: Event) -> None:
        self.delivered += 1
        for callback in tuple(self._callbacks):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not break the run
                log.exception("event subscriber failed on %s", event.kind)
        for sub in tuple(self._streams):
            sub._push(event)

    def close(self) -> None:
        self.flush()
        for sub in tuple(self._streams):
            sub.close()


class HeldEvents:
    """Keeps what `bus` delivers until `release`: a subscriber that comes later (the TUI of a
    resumed run, which starts at once) gets the events it missed, then follows live."""

    def __init__(self, bus: EventBus) -> None:
        self._events: list[Event] = []
        self._stop = bus.subscribe(self._events.append)

    def release(self) -> list[Event]:
        """The events held so far; none are held after this."""
        self._stop()
        events, self._events = self._events, []
        return events
