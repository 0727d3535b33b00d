"""Chunked bodies read off the socket (core/chunked_body.py), against httpcore2's own h11
reading of the same bytes: the same body and the same errors whatever way the bytes are
split into reads, the connection reused after a whole body and closed after a broken one."""

# The read/write timeouts are httpcore2's stream interface.
# ruff: noqa: ASYNC109

from __future__ import annotations

import random
from typing import Any

import h11
import httpcore2
import pytest
from httpcore2._backends.base import AsyncNetworkStream

from core.chunked_body import INCOMPLETE, StreamingConnectionPool, StreamingHTTP11Connection
from core.http_client import PlainHTTPTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
SECOND = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def chunked(*parts: bytes, trailer: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n" + trailer + b"\r\n"


class Reads(AsyncNetworkStream):
    """A network stream that returns the given reads, then EOF (b"")."""

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = list(reads)
        self.written = b""
        self.closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self.reads:
            return b""
        data = self.reads.pop(0)
        if len(data) > max_bytes:
            self.reads.insert(0, data[max_bytes:])
            data = data[:max_bytes]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.written += buffer

    async def aclose(self) -> None:
        self.closed = True

    def get_extra_info(self, info: str) -> Any:
        return None


def request() -> httpcore2.Request:
    return httpcore2.Request(
        "POST",
        "http://api.test/v1/messages",
        headers=[(b"host", b"api.test"), (b"content-length", b"2")],
        content=b"{}",
        extensions={"timeout": {"read": 5.0}},
    )


async def fetch(
    cls: type[httpcore2.AsyncHTTP11Connection], reads: list[bytes]
) -> tuple[list[bytes], BaseException | None, httpcore2.AsyncHTTP11Connection]:
    """The body pieces a connection of `cls` reads from `reads`, and the error, if any."""
    origin = httpcore2.Origin(b"http", b"api.test", 80)
    conn = cls(origin=origin, stream=Reads(reads))
    pieces: list[bytes] = []
    error: BaseException | None = None
    response = await conn.handle_async_request(request())
    try:
        async for piece in response.stream:  # type: ignore[union-attr]
            pieces.append(piece)
    except Exception as exc:
        error = exc
    finally:
        await response.aclose()
    return pieces, error, conn


def splits(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.fixture
def h11_data_events(monkeypatch: pytest.MonkeyPatch) -> list[h11.Data]:
    """Every body chunk h11 itself hands out."""
    seen: list[h11.Data] = []
    next_event = h11.Connection.next_event

    def spy(self: h11.Connection) -> Any:
        event = next_event(self)
        if isinstance(event, h11.Data):
            seen.append(event)
        return event

    monkeypatch.setattr(h11.Connection, "next_event", spy)
    return seen


PARTS = (
    b'event: message_start\ndata: {"type": "message_start"}\n\n',
    b"x" * 70_000,  # longer than one read
    b"event: ping\ndata: {}\n\n",
)
BODY = chunked(*PARTS, trailer=b"x-trailer: yes\r\n")


async def test_any_split_reads_the_body_h11_reads(h11_data_events: list[h11.Data]) -> None:
    rng = random.Random(15)
    ways = [[HEAD + BODY], [HEAD, BODY], [HEAD + BODY[:3], BODY[3:]]]
    ways += [splits(HEAD + BODY, rng) for _ in range(40)]
    ways.append([bytes([b]) for b in HEAD + BODY[:400]] + [BODY[400:]])
    for reads in ways:
        ours, error, conn = await fetch(StreamingHTTP11Connection, reads)
        assert error is None
        assert not h11_data_events  # no chunk went through h11's events
        h11_data_events.clear()
        theirs, error, _ = await fetch(httpcore2.AsyncHTTP11Connection, reads)
        assert error is None
        assert b"".join(ours) == b"".join(theirs) == b"".join(PARTS)
        assert conn.is_idle()  # the message ended: the connection can be reused
        h11_data_events.clear()


async def test_the_chunks_of_one_read_come_out_as_one_piece() -> None:
    reads = [HEAD, chunked(b"a", b"bc", b"def")[:-5], b"0\r\n\r\n"]
    pieces, error, conn = await fetch(StreamingHTTP11Connection, reads)
    assert error is None
    assert pieces == [b"abcdef"]
    assert conn.is_idle()


async def test_the_connection_serves_the_next_request_after_a_body() -> None:
    origin = httpcore2.Origin(b"http", b"api.test", 80)
    stream = Reads([HEAD + chunked(b"first"), SECOND])
    conn = StreamingHTTP11Connection(origin=origin, stream=stream)
    for expected in (b"first", b"ok"):
        response = await conn.handle_async_request(request())
        assert await response.aread() == expected
        await response.aclose()
        assert conn.is_idle()
    assert not stream.closed


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"zz\r\nab\r\n", "illegal chunk header"),
        (b"2\r\nab\r\nzz\r\n", "illegal chunk header"),
        (b"2\r\nabXY0\r\n\r\n", "malformed chunk footer"),
        (b"5\r\nab", INCOMPLETE),
        (b"5\r\nabcde", INCOMPLETE),
        (b"5\r\nabcde\r\n", INCOMPLETE),
        (b"", INCOMPLETE),
        (b"1" * 200_000, "Receive buffer too long"),
    ],
    ids=[
        "header",
        "header-after-chunk",
        "footer",
        "cut-in-chunk",
        "cut-before-footer",
        "cut-after-chunk",
        "no-body",
        "endless-header",
    ],
)
async def test_a_broken_body_fails_as_with_h11(body: bytes, message: str) -> None:
    for reads in ([HEAD + body], [HEAD, *(body[i : i + 7] for i in range(0, len(body), 7))]):
        ours, error, conn = await fetch(StreamingHTTP11Connection, reads)
        theirs, their_error, _ = await fetch(httpcore2.AsyncHTTP11Connection, reads)
        assert isinstance(error, httpcore2.RemoteProtocolError), error
        assert isinstance(their_error, httpcore2.RemoteProtocolError), their_error
        assert message in str(error)
        assert b"".join(ours) == b"".join(theirs)
        assert conn.is_closed()  # never reused after a broken body


async def test_a_body_that_is_not_chunked_is_read_by_h11() -> None:
    reads = [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel", b"lo"]
    pieces, error, conn = await fetch(StreamingHTTP11Connection, reads)
    assert error is None
    assert b"".join(pieces) == b"hello"
    assert conn.is_idle()


def test_the_network_transport_makes_streaming_connections() -> None:
    transport = PlainHTTPTransport()
    pool = transport._pool
    assert isinstance(pool, StreamingConnectionPool)
    conn = pool.create_connection(httpcore2.Origin(b"http", b"127.0.0.1", 9))
    assert type(conn).__name__ == "StreamingHTTPConnection"
