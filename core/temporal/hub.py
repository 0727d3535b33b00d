"""The live event channel: activities on any worker publish a run's events to the session.

Temporal carries only coarse state (a turn's stop reason, a tool's result); per-token
events would grow the workflow's history and signals manage a few hundred a second,
so text deltas, tool progress and usage travel on this side channel instead: a TCP hub
speaking JSON lines, opened by the session, authenticated by a token it hands to its
workflows. Every publisher numbers its events; the hub keeps the last number it took
from each publisher and tells it on (re)connect, so a publisher that lost its
connection resends from there and nothing is lost or doubled. The hub numbers what it
accepted too, and a subscriber connecting with a cursor gets everything after it.

Two more kinds of line make a run's budget stop as fast as on one machine: a publisher
sends each attempt's running cost as it streams (`spend`, unnumbered: only the newest
value counts, so it is sent coalesced and may be lost), and the hub sends a `stop` for
an attempt to every publisher, which ends that attempt's streaming reply at once
(a kill through the workflow reaches it with the next heartbeat, 0.1-0.6 s later).

Protocol (one JSON object per line):
  client -> hub  {"token": T, "role": "pub", "source": ID}    hub -> {"cursor": N}
  publisher      {"seq": n, "event": {...}}                    hub -> {"ack": n} (batched)
  publisher      {"spend": [agent_id, attempt, usd]}
  hub -> pub     {"stop": [agent_id, attempt, state, reason]}
  client -> hub  {"token": T, "role": "sub", "cursor": N}      hub -> {"seq": g, "event": {...}}
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.events import Event

REPLAY_KEEP = 200_000  # events a subscriber can replay from the hub's memory
RESEND_KEEP = 100_000  # events a publisher keeps until the hub acknowledged them
LINE_LIMIT = 16 * 1024 * 1024
HELLO_TIMEOUT_S = 5.0
UNREACHABLE_WAIT_S = 1.0
# The longest wait between tries to reach the hub (or to learn where a resumed session
# put its own): under UNREACHABLE_WAIT_S, so an activity that ends while its session is
# being resumed still gets its last events through once the new hub is known.
RETRY_MAX_S = UNREACHABLE_WAIT_S / 3


@dataclass(frozen=True)
class HubAddress:
    """Where publishers connect (passed to workflows, so it must stay plain data)."""

    host: str
    port: int
    token: str


Subscriber = Callable[[int, Event], None]
# (agent_id, attempt, dollars so far): an attempt's running cost as it streams.
SpendWatcher = Callable[[str, int, float], None]
# (state, reason): stop the attempt's streaming reply now.
StopHandler = Callable[[str, str], None]


class EventHub:
    """The session's end: accepts publishers, hands every new event to subscribers."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_hex(16)
        self.cursors: dict[str, int] = {}  # per publisher: the last seq taken
        self.seq = 0  # events accepted, over all publishers
        self.log: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(
            maxlen=REPLAY_KEEP
        )
        self._subscribers: list[Subscriber] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._publishers: set[asyncio.StreamWriter] = set()
        self.spend_watchers: list[SpendWatcher] = []
        self.refused = 0  # connections with a wrong token

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> HubAddress:
        self._server = await asyncio.start_server(self._serve, host, port, limit=LINE_LIMIT)
        sock = self._server.sockets[0]
        return HubAddress(host, int(sock.getsockname()[1]), self.token)

    def subscribe(self, fn: Subscriber, cursor: int = 0) -> None:
        """Call `fn(seq, event)` for every event after `cursor`, then for each new one."""
        for seq, data in list(self.log):
            if seq > cursor:
                fn(seq, Event.from_dict(data))
        self._subscribers.append(fn)

    def stop(self, agent_id: str, attempt: int, state: str, reason: str) -> None:
        """Tell every publisher: the attempt's streaming reply ends now, as `state`."""
        line = _line({"stop": [agent_id, attempt, state, reason]})
        for writer in list(self._publishers):
            if not writer.is_closing():
                writer.write(line)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _accept(self, source: str, seq: int, data: dict[str, Any]) -> None:
        if seq <= self.cursors.get(source, 0):
            return  # resent after a reconnect: already taken
        self.cursors[source] = seq
        self.seq += 1
        self.log.append((self.seq, data))
        if self._subscribers:
            event = Event.from_dict(data)
            for fn in self._subscribers:
                fn(self.seq, event)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            hello = json.loads(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S))
            token = str(hello.get("token", ""))
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                self.refused += 1
                return
            if hello.get("role") == "sub":
                await self._feed(writer, int(hello.get("cursor", 0)))
                return
            source = str(hello["source"])
            await _send(writer, {"cursor": self.cursors.get(source, 0)})
            self._publishers.add(writer)
            await self._take(source, reader, writer)
        except (OSError, ValueError, KeyError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # the hub is closing
            pass
        finally:
            self._writers.discard(writer)
            self._publishers.discard(writer)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _take(
        self, source: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        # Acks are batched: one per burst of lines read without waiting (a callback
        # scheduled now runs once `readline` has to wait for more).
        acking = False

        def ack() -> None:
            nonlocal acking
            acking = False
            if not writer.is_closing():
                writer.write(_line({"ack": self.cursors[source]}))

        loop = asyncio.get_running_loop()
        while True:
            line = await reader.readline()
            if not line:
                return
            msg = json.loads(line)
            if "spend" in msg:
                agent_id, attempt, usd = msg["spend"]
                for watch in self.spend_watchers:
                    watch(str(agent_id), int(attempt), float(usd))
                continue
            self._accept(source, int(msg["seq"]), msg["event"])
            if not acking:
                acking = True
                loop.call_soon(ack)

    async def _feed(self, writer: asyncio.StreamWriter, cursor: int) -> None:
        queue: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()
        self.subscribe(lambda seq, event: queue.put_nowait((seq, event)), cursor)
        while True:
            seq, event = await queue.get()
            writer.write(_line({"seq": seq, "event": event.to_dict()}))
            if queue.empty():
                await writer.drain()


class Publisher:
    """A worker's end, one per hub: `emit` never blocks; a background task sends, and on a
    broken connection reconnects and resends what the hub had not taken."""

    def __init__(self, address: HubAddress, source: str) -> None:
        self.address = address
        self.source = source
        self.seq = 0
        self.acked = 0
        self._pending: collections.deque[tuple[int, bytes]] = collections.deque()
        self._wake = asyncio.Event()
        self._acked_changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.connected = True  # until a connection fails: the first one is not waited on
        self._spend: dict[tuple[str, int], float] = {}  # newest cost per attempt, unsent
        # Where the session's hub is now, when this one cannot be reached (a resumed
        # session opened its own): what the hub had not taken is sent there.
        self.relocate: Callable[[], Awaitable[HubAddress | None]] | None = None
        self.stop_handlers: dict[tuple[str, int], StopHandler] = {}

    def emit(self, event: Event) -> None:
        self.seq += 1
        self._pending.append((self.seq, _line({"seq": self.seq, "event": event.to_dict()})))
        if len(self._pending) > RESEND_KEEP:
            self._pending.popleft()
            self.dropped += 1
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def spend(self, agent_id: str, attempt: int, usd: float) -> None:
        """The attempt's running cost (sent coalesced: the newest value when the
        connection is free; not resent after a reconnect)."""
        self._spend[(agent_id, attempt)] = usd
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Until the hub acknowledged every event emitted so far (False on timeout; at
        most UNREACHABLE_WAIT_S while the hub cannot be reached: a session that went away
        must not hold its agents' activities. What was not taken stays queued, resent
        when the hub is back)."""
        target = self.seq
        if not self.connected:
            timeout_s = min(timeout_s, UNREACHABLE_WAIT_S)
        deadline = time.monotonic() + timeout_s
        while self.acked < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._acked_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acked_changed.wait(), remaining)
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        delay = 0.05
        while True:  # until closed: the connection stays open between bursts
            try:
                await self._session()
                delay = 0.05
            except (OSError, ValueError, asyncio.IncompleteReadError):
                self.connected = False
                if await self._relocated():
                    delay = 0.05
                    continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _relocated(self) -> bool:
        if self.relocate is None:
            return False
        try:
            moved = await self.relocate()
        except Exception:
            return False
        if moved is None or moved == self.address:
            return False
        self.address = moved
        return True

    async def _session(self) -> None:
        a = self.address
        reader, writer = await asyncio.open_connection(a.host, a.port, limit=LINE_LIMIT)
        try:
            writer.write(_line({"token": a.token, "role": "pub", "source": self.source}))
            hello = json.loads(await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S) or b"x")
            self.connected = True
            self._ack(int(hello["cursor"]))
            acks = asyncio.ensure_future(self._read_acks(reader))
            try:
                sent = self.acked
                while True:
                    if acks.done():
                        acks.result()
                        raise ConnectionResetError("the hub closed the connection")
                    batch = [line for seq, line in self._pending if seq > sent]
                    if batch:
                        sent = self._pending[-1][0]
                    if self._spend:
                        spends, self._spend = self._spend, {}
                        batch += [_line({"spend": [a, n, usd]}) for (a, n), usd in spends.items()]
                    if batch:
                        writer.write(b"".join(batch))
                        await writer.drain()
                    self._wake.clear()
                    if (self._pending and self._pending[-1][0] > sent) or self._spend:
                        continue
                    wake = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait([wake, acks], return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        wake.cancel()
            finally:
                acks.cancel()
        finally:
            writer.close()

    async def _read_acks(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionResetError("the hub closed the connection")
            msg = json.loads(line)
            if "stop" in msg:
                agent_id, attempt, state, reason = msg["stop"]
                handler = self.stop_handlers.get((str(agent_id), int(attempt)))
                if handler is not None:
                    handler(str(state), str(reason))
                continue
            self._ack(int(msg["ack"]))

    def _ack(self, seq: int) -> None:
        self.acked = max(self.acked, seq)
        while self._pending and self._pending[0][0] <= self.acked:
            self._pending.popleft()
        self._acked_changed.set()
        self._wake.set()


async def _send(writer: asyncio.StreamWriter, msg: dict[str, Any]) -> None:
    writer.write(_line(msg))
    await writer.drain()


def _line(msg: dict[str, Any]) -> bytes:
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"
