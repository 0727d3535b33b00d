"""HTTP/1.1 chunked response bodies read straight off the socket, not one h11 event a chunk.

A streamed reply comes as a chunked body, one chunk (one SSE event) a socket read when it
streams in use. httpcore2 hands every chunk through h11's event machinery (`next_event`,
its reader, its state machine, an exception-mapping context per call): about as much CPU
a chunk as everything else this process does with the event. `StreamingHTTP11Connection`
keeps httpcore2's HTTP/1.1 connection as it is (h11 writes the request, parses the
response head and the body's end, and decides whether the connection is reused) and
reads the chunks between them itself: a `find`, h11's own chunk-header pattern, a slice;
and every chunk that one read completes comes out as ONE piece.

What h11 checks, this checks, with the same errors (httpcore2's `RemoteProtocolError`,
which httpx2 and the SDK see as before): an illegal chunk header, a chunk not followed by
CRLF, a header line longer than h11 buffers, a peer that closes before the last chunk.
The last chunk (`0`) and its trailer go to h11, which ends the message exactly as it does
for any body; only then is the connection idle again. A body that is not chunked, or an
h11 in a state this does not know (another h11 version), is read by httpcore2 as before.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import h11
import httpcore2
from h11._readers import ChunkedReader, chunk_header_re
from h11._receivebuffer import ReceiveBuffer

__all__ = ["StreamingConnectionPool", "StreamingHTTP11Connection", "StreamingHTTPConnection"]

CRLF = b"\r\n"
INCOMPLETE = (
    "peer closed connection without sending complete message body (incomplete chunked read)"
)


class StreamingHTTP11Connection(httpcore2.AsyncHTTP11Connection):
    """httpcore2's HTTP/1.1 connection; a chunked body's chunks are read here (see above)."""

    def _reads_chunks(self) -> bool:
        """h11 is about to read a chunked body from its first chunk, and nothing ended it."""
        state = self._h11_state
        reader: Any = getattr(state, "_reader", None)
        return (
            state.their_state is h11.SEND_BODY
            and type(reader) is ChunkedReader
            and getattr(reader, "_bytes_in_chunk", None) == 0
            and getattr(reader, "_bytes_to_discard", None) == b""
            and getattr(reader, "_reading_trailer", None) is False
            and isinstance(getattr(state, "_receive_buffer", None), ReceiveBuffer)
            and getattr(state, "_receive_buffer_closed", None) is False
        )

    async def _receive_response_body(self, request: httpcore2.Request) -> AsyncGenerator[bytes]:
        if not self._reads_chunks():
            async for piece in super()._receive_response_body(request):
                yield piece
            return
        timeout = request.extensions.get("timeout", {}).get("read", None)
        state = self._h11_state
        # What h11 read with the response head (the body's start, often) is ours now.
        held: ReceiveBuffer = state._receive_buffer
        buf = bytes(held.maybe_extract_at_most(len(held)) or b"")
        read = self._network_stream.read
        limit = self.MAX_INCOMPLETE_EVENT_SIZE
        left = 0  # bytes of the current chunk still to come
        footer = False  # the CRLF after a chunk is still to come
        while True:
            pieces: list[bytes] = []
            error = ""  # raised after the pieces before it are out, as h11 does
            pos = 0
            end = len(buf)
            while True:
                if left:
                    if pos == end:
                        break
                    piece = buf[pos : pos + left]
                    pieces.append(piece)
                    pos += len(piece)
                    left -= len(piece)
                    if left:
                        break
                    footer = True
                if footer:
                    if end - pos < 2:
                        break
                    if buf[pos : pos + 2] != CRLF:
                        footing = buf[pos : pos + 2]
                        error = f"malformed chunk footer: {footing!r} (expected b'\\r\\n')"
                        break
                    pos += 2
                    footer = False
                nl = buf.find(CRLF, pos)
                if nl < 0:
                    if end - pos > limit:
                        error = "Receive buffer too long"
                    break
                line = buf[pos : nl + 2]
                match = chunk_header_re.fullmatch(line)
                if match is None:
                    error = f"illegal chunk header: {line!r}"
                    break
                size = int(match["chunk_size"], 16)
                if size == 0:
                    # The last chunk: h11 reads it and the trailer, and ends the message.
                    if pieces:
                        yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
                    state.receive_data(buf[pos:])
                    async for piece in super()._receive_response_body(request):
                        yield piece  # pragma: no cover - a last chunk carries no data
                    return
                pos = nl + 2
                left = size
            buf = buf[pos:] if pos else buf
            if pieces:
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if error:
                raise httpcore2.RemoteProtocolError(error)
            data = await read(self.READ_NUM_BYTES, timeout=timeout)
            if not data:
                raise httpcore2.RemoteProtocolError(INCOMPLETE)
            buf = buf + data if buf else data


class StreamingHTTPConnection(httpcore2.AsyncHTTPConnection):
    """httpcore2's connection to one origin, speaking HTTP/1.1 as
    `StreamingHTTP11Connection` (the pool never asks for HTTP/2)."""

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        if self._connection is None and self.can_handle_request(request.url.origin):
            try:
                async with self._request_lock:
                    if self._connection is None:
                        stream = await self._connect(request)
                        self._connection = StreamingHTTP11Connection(
                            origin=self._origin,
                            stream=stream,
                            keepalive_expiry=self._keepalive_expiry,
                        )
            except BaseException:
                self._connect_failed = True
                raise
        return await super().handle_async_request(request)


class StreamingConnectionPool(httpcore2.AsyncConnectionPool):
    """httpcore2's pool, its direct HTTP/1.1 connections `StreamingHTTPConnection`s."""

    def create_connection(self, origin: httpcore2.Origin) -> httpcore2.AsyncConnectionInterface:
        if self._proxy is not None or self._http2:
            return super().create_connection(origin)
        return StreamingHTTPConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            http1=self._http1,
            http2=self._http2,
            retries=self._retries,
            local_address=self._local_address,
            uds=self._uds,
            network_backend=self._network_backend,
            socket_options=self._socket_options,
        )
