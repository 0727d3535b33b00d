"""The floor reader: a minimal asyncio HTTP/1.1 + SSE client, the least any reader can do.

One POST per connection, then one `read` per arrival, chunked decoding, a bytes split per
event and `json.loads`; each event's data (pings skipped) goes to a callback. It reads a
server that answers with `Transfer-Encoding: chunked` and closes after the reply, as the
simulator's loopback server does. `bench.stream_read` measures readers against it;
`bench.scale`'s floor agents read the simulator with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

OnEvent = Callable[[dict[str, Any]], None]


class FloorReadError(Exception):
    """The server refused the request or cut the reply short."""


def split_url(url: str) -> tuple[str, int, str]:
    """`http://host:port/prefix` as (host, port, "/prefix"); the path is "" without one."""
    rest = url.removeprefix("http://")
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    return host, int(port), f"/{path}".rstrip("/")


async def post_sse(
    host: str,
    port: int,
    path: str,
    body: bytes,
    on_event: OnEvent,
    headers: Mapping[str, str] | None = None,
) -> None:
    """POST `body` to `path` and hand each SSE event's parsed `data` to `on_event`."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )
        buf = b""
        while (head_end := buf.find(b"\r\n\r\n")) < 0:
            more = await reader.read(65536)
            if not more:
                raise FloorReadError("the server closed the connection before its reply")
            buf += more
        status = buf[: buf.find(b"\r\n")].split(b" ", 2)[1]
        if status != b"200":
            rest = await _error_body(reader, buf[:head_end], buf[head_end + 4 :])
            raise FloorReadError(f"HTTP {status.decode()}: {rest[:300]!r}")
        buf = buf[head_end + 4 :]
        await _read_chunked(reader, buf, on_event)
    finally:
        writer.close()


async def _error_body(reader: asyncio.StreamReader, head: bytes, rest: bytes) -> bytes:
    """An error reply's body: its Content-Length's worth (the server keeps the connection
    open for the next request, so reading to the end would wait for good), else to EOF."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            wanted = int(value.strip())
            if len(rest) < wanted:
                rest += await reader.readexactly(wanted - len(rest))
            return rest[:wanted]
    return rest + await reader.read()


def emit_frames(sse: bytes, on_event: OnEvent, loads: Callable[[bytes], Any] = json.loads) -> bytes:
    """Each whole SSE frame's data, parsed, to `on_event` (pings skipped); the rest, kept."""
    start = 0
    while (end := sse.find(b"\n\n", start)) >= 0:
        frame = sse[start:end]
        start = end + 2
        nl = frame.find(b"\n")
        if frame[7:nl] != b"ping":
            on_event(loads(frame[nl + 7 :]))
    return sse[start:]


async def _read_chunked(reader: asyncio.StreamReader, buf: bytes, on_event: OnEvent) -> None:
    raw = b""  # the chunked body, decoded
    sse = b""
    done = False
    loads = json.loads
    while True:
        while True:  # decode the complete chunks in `buf`
            nl = buf.find(b"\r\n")
            if nl < 0:
                break
            size = int(buf[:nl], 16)
            if size == 0:
                done = True
                break
            if len(buf) < nl + 2 + size + 2:
                break
            raw += buf[nl + 2 : nl + 2 + size]
            buf = buf[nl + 2 + size + 2 :]
        if raw:
            sse = emit_frames(sse + raw, on_event, loads)
            raw = b""
        if done:
            return
        more = await reader.read(65536)
        if not more:
            raise FloorReadError("the server closed the connection mid-reply")
        buf += more
