"""A minimal HTTP/1.1 server on asyncio streams, for the loopback simulator and test servers.

It keeps a connection open for the next request, as the Messages API does (unless the
client asks `Connection: close`, or a request's body was too large to read), and answers
with either a fixed body or a streamed one sent with chunked transfer encoding. A streamed body that
raises `DropConnection` makes the server cut the socket mid-response, as a broken
network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    529: "Overloaded",
}
MAX_BODY = 64 * 1024 * 1024
# Connections the kernel queues until the server accepts them (it caps this at
# net.core.somaxconn). asyncio's default, 100, overflowed when 1000 agents ended a turn
# together: the kernel dropped the rest of the connections' handshakes, which the clients
# then retried after a second or more (`TcpExtListenOverflows`).
BACKLOG = 4096


class DropConnection(Exception):
    """Raised from a streamed body to cut the connection without finishing the response."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """`async with HttpServer(handler) as server:` then use `server.base_url`."""

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        backlog: int = BACKLOG,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.tls = tls  # serve https (tests of the client's TLS path)
        self.backlog = backlog
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted so far (a client that keeps its sockets: few)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_client, self.host, self.port, ssl=self.tls, backlog=self.backlog
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            for task in list(self._conns):
                with contextlib.suppress(BaseException):
                    await task
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> HttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.connections += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                keep = _keeps_alive(request)
                response = await self.handler(request)
                await _write_response(writer, response, keep)
                if not keep:
                    return
        except (DropConnection, ConnectionError):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
            return
        except asyncio.CancelledError:
            # Only close() cancels connections: end this one quietly, the server is going away.
            writer.transport.abort()
            return
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if _version.strip() == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"  # HTTP/1.0 closes unless it asked otherwise
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        return Request(method, path, headers, b"")
    body = await reader.readexactly(length) if length else b""
    return Request(method, path, headers, body)


def _keeps_alive(request: Request) -> bool:
    """Whether the connection serves another request after this one: HTTP/1.1 keeps it
    unless the client says `close`; a body left unread (too large) ends it."""
    if request.headers.get("connection", "").lower() == "close":
        return False
    return len(request.body) == int(request.headers.get("content-length", "0") or 0)


async def _write_response(writer: asyncio.StreamWriter, response: Response, keep: bool) -> None:
    reason = _REASONS.get(response.status, "Status")
    headers = {k.lower(): v for k, v in response.headers.items()}
    headers["connection"] = "keep-alive" if keep else "close"
    if response.stream is None:
        headers["content-length"] = str(len(response.body))
    else:
        headers["transfer-encoding"] = "chunked"
    head = f"HTTP/1.1 {response.status} {reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    writer.write(head.encode("latin-1") + b"\r\n")
    if response.stream is None:
        writer.write(response.body)
        await writer.drain()
        return
    await writer.drain()
    async for chunk in response.stream:
        if chunk:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
