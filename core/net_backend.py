"""httpcore2's network layer on a plain asyncio protocol: the same HTTP, less work per read.

httpcore2's default (anyio) stream pauses the transport after every chunk it takes and
resumes it on the next read (an epoll registration and removal per read), and wraps each
read in a cancel scope for its timeout. A streamed reply arrives one event per read, so
at hundreds of streaming agents that was a large part of the event loop's time. Here the
socket stays registered while data flows (reading pauses only when 256 kB wait unread),
and a read that must wait arms one timer.

Everything above it is unchanged: httpcore2's HTTP/1.1 (h11), httpx2, the SDK's client.
Errors are httpcore2's own, as its anyio backend raises them: `ConnectError`,
`ConnectTimeout`, `ReadError`, `ReadTimeout`, `WriteError`, `WriteTimeout`; a peer that
closes mid-body reads as `b""`, which h11 reports as `RemoteProtocolError`.
"""

# The timeouts are httpcore2's interface (AsyncNetworkStream's signatures).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
from httpcore2._backends.base import AsyncNetworkBackend, AsyncNetworkStream
from httpcore2._types import SOCKET_OPTION

HIGH_WATER = 256 * 1024  # unread bytes at which reading from the socket pauses
HAPPY_EYEBALLS_DELAY_S = 0.25  # as anyio's connect_tcp


class _Protocol(asyncio.Protocol):
    """Buffers what arrives; wakes the one reader, or the one writer waiting to drain."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.eof = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None
        self.write_paused = False
        self.read_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake()
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drained, self.drained = self.drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        chunks = self.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if len(data) > max_bytes:
            self.chunks = [data[max_bytes:]]
            data = data[:max_bytes]
        else:
            self.chunks = []
        self.size -= len(data)
        if self.read_paused and self.size <= HIGH_WATER // 4 and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        return data


class _Deadline:
    """The read timeout of one stream: one timer, not a new one for every read.

    A streamed reply waits once a read, each time for a moment; arming and cancelling a
    loop timer for each (a handle made, pushed on the loop's heap, cancelled, swept) cost
    more than the read. Here a wait only notes when it must end; the one timer, when it
    fires, fails the wait that is past its time, or is set again for the wait's end.
    """

    __slots__ = ("_handle", "_loop", "_waiter", "at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.at = 0.0

    def arm(self, waiter: asyncio.Future[None], timeout: float) -> None:
        self._waiter = waiter
        self.at = at = self._loop.time() + timeout
        handle = self._handle
        if handle is None or handle.when() > at:
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(at, self._fire)

    def disarm(self) -> None:
        self._waiter = None  # the timer stays: the next wait most likely ends later

    def close(self) -> None:
        self._waiter = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._loop.time() >= self.at:
            waiter.set_exception(TimeoutError())
        else:
            self._handle = self._loop.call_at(self.at, self._fire)


class AsyncioStream(AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._deadline: _Deadline | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.chunks:
            if protocol.eof:
                if protocol.error is not None:
                    raise httpcore2.ReadError(str(protocol.error) or type(protocol.error).__name__)
                return b""
            loop = asyncio.get_running_loop()
            waiter = protocol.waiter = loop.create_future()
            deadline = None
            if timeout is not None:
                deadline = self._deadline
                if deadline is None:
                    deadline = self._deadline = _Deadline(loop)
                deadline.arm(waiter, timeout)
            try:
                await waiter
            except TimeoutError:
                raise httpcore2.ReadTimeout("timed out reading from the server") from None
            finally:
                protocol.waiter = None
                if deadline is not None:
                    deadline.disarm()
            if not protocol.chunks:
                if protocol.error is not None:
                    raise httpcore2.ReadError(str(protocol.error) or type(protocol.error).__name__)
                return b""
        return protocol.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.eof or self._transport.is_closing():
            raise httpcore2.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        if not protocol.write_paused:
            return
        drained = protocol.drained = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await drained
        except TimeoutError:
            raise httpcore2.WriteTimeout("timed out writing to the server") from None
        if protocol.eof and protocol.error is not None:
            raise httpcore2.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._protocol, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore2.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.abort()
            raise httpcore2.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore2.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        self._protocol.transport = transport
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # Asked of every idle connection each time the pool hands out or takes back
            # one (httpcore2's `has_expired`: a server that closed it). The loop reads
            # the socket whenever nothing waits unread (reading pauses only with bytes
            # buffered), so what came (data, EOF) is in the protocol already; a poll(2)
            # per idle connection per request was the biggest of the loop's stalls at
            # 1000 agents over HTTP.
            protocol = self._protocol
            return bool(protocol.chunks) or protocol.eof
        return None


class AsyncioBackend(AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol,
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
                )
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        sock: socket.socket | None = transport.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
