"""The asyncio network layer under httpcore2 (core/net_backend.py), over real sockets:
verified TLS, bodies larger than its buffers both ways, and its errors as the SDK's."""

from __future__ import annotations

import asyncio
import select
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpcore2
import pytest

from core import net_backend
from core.http_client import NetworkTransport, PlainHTTPTransport
from core.llm import ModelClient, TurnError, make_client
from tests.fakeapi import DEFAULT_KEY, FakeAPI, text_reply
from tests.test_llm import RecordingSink, request


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, made for this run."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "localhost.pem", tmp / "localhost.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def tls_api(certificate: tuple[Path, Path]) -> AsyncIterator[FakeAPI]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    async with FakeAPI(host="localhost", tls=context) as api:
        yield api


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts the asyncio backend connected to."""
    seen: list[str] = []
    connect = net_backend.AsyncioBackend.connect_tcp

    async def spy(self: net_backend.AsyncioBackend, host: str, port: int, **kw: Any) -> Any:
        seen.append(host)
        return await connect(self, host, port, **kw)

    monkeypatch.setattr(net_backend.AsyncioBackend, "connect_tcp", spy)
    return seen


async def test_https_is_verified_and_streams_through_the_backend(
    tls_api: FakeAPI,
    certificate: tuple[Path, Path],
    connects: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    assert tls_api.base_url.startswith("https://localhost:")
    client = make_client(DEFAULT_KEY, tls_api.base_url, max_retries=0)
    try:
        assert type(client._client._transport) is NetworkTransport
        tls_api.push(text_reply("over verified TLS", pieces=5))
        sink = RecordingSink()
        result = await ModelClient(client, retries=0).stream_turn(request(), sink)
    finally:
        await client.close()
    assert result.content == [{"type": "text", "text": "over verified TLS"}]
    assert len(sink.texts) == 5
    assert connects == ["localhost"]
    assert tls_api.requests[0].api_key == DEFAULT_KEY


async def test_https_with_an_unknown_certificate_is_refused(
    tls_api: FakeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = make_client(DEFAULT_KEY, tls_api.base_url, max_retries=0)
    try:
        tls_api.push(text_reply("never sent"))
        with pytest.raises(TurnError, match=r"could not reach the API.*CERTIFICATE_VERIFY_FAILED"):
            await ModelClient(client, retries=0).stream_turn(request(), RecordingSink())
    finally:
        await client.close()
    assert tls_api.requests == []


async def test_bodies_larger_than_the_buffers_pause_and_resume(
    fake_api: FakeAPI, connects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 3 MB request (the transport's write buffer fills: the write waits to drain) and a
    2 MB reply read with a small high-water mark (reading pauses and resumes)."""
    monkeypatch.setattr(net_backend, "HIGH_WATER", 8 * 1024)
    paused: list[bool] = []
    take = net_backend._Protocol.take

    def spy(self: net_backend._Protocol, max_bytes: int) -> bytes:
        paused.append(self.read_paused)
        return take(self, max_bytes)

    monkeypatch.setattr(net_backend._Protocol, "take", spy)
    client = make_client(DEFAULT_KEY, fake_api.base_url, max_retries=0)
    big_prompt = "p" * 3_000_000
    big_reply = "".join(f"line {i} of a long reply\n" for i in range(80_000))
    try:
        assert isinstance(client._client._transport, PlainHTTPTransport)
        fake_api.push(text_reply(big_reply, pieces=400))
        result = await ModelClient(client, retries=0).stream_turn(
            request(messages=[{"role": "user", "content": big_prompt}]), RecordingSink()
        )
    finally:
        await client.close()
    assert result.content == [{"type": "text", "text": big_reply}]
    assert fake_api.requests[0].messages[0]["content"] == big_prompt
    assert any(paused)  # and it resumed: the whole reply was read
    assert connects == ["127.0.0.1"]


async def test_a_closed_port_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the client connects
    client = make_client(DEFAULT_KEY, f"http://127.0.0.1:{port}", max_retries=0)
    try:
        with pytest.raises(TurnError, match=r"could not reach the API \(connection error"):
            await ModelClient(client, retries=0).stream_turn(request(), RecordingSink())
    finally:
        await client.close()


class FakeClock:
    """`call_at` and `time` of a loop, the time moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[asyncio.TimerHandle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Any) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, (), asyncio.get_running_loop())
        self.timers.append(handle)
        return handle

    def run_due(self) -> None:
        due = [t for t in self.timers if not t.cancelled() and t.when() <= self.now]
        self.timers = [t for t in self.timers if t not in due]
        for timer in due:
            timer._run()


async def test_one_timer_serves_every_read_and_fails_only_a_wait_past_its_time() -> None:
    clock = FakeClock()
    deadline = net_backend._Deadline(clock)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    first = loop.create_future()
    deadline.arm(first, 10.0)  # a wait until 110
    first.set_result(None)  # data came
    deadline.disarm()
    clock.now = 105.0
    second = loop.create_future()
    deadline.arm(second, 10.0)  # until 115: the same timer, still set for 110
    assert len([t for t in clock.timers if not t.cancelled()]) == 1
    clock.now = 110.0
    clock.run_due()  # early for this wait: set again for 115, the wait goes on
    assert not second.done()
    assert [t.when() for t in clock.timers if not t.cancelled()] == [115.0]
    clock.now = 115.0
    clock.run_due()
    assert isinstance(second.exception(), TimeoutError)
    third = loop.create_future()
    deadline.arm(third, 1.0)  # a shorter timeout than the timer's: set sooner
    assert [t.when() for t in clock.timers if not t.cancelled()] == [116.0]
    deadline.close()
    assert not [t for t in clock.timers if not t.cancelled()]


async def test_a_silent_server_is_a_read_timeout_and_a_later_read_still_works() -> None:
    server_socket, client_socket = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(net_backend._Protocol, sock=client_socket)
    stream = net_backend.AsyncioStream(transport, protocol)
    try:
        with pytest.raises(httpcore2.ReadTimeout):
            await stream.read(1024, timeout=0.05)
        server_socket.sendall(b"late")
        assert await stream.read(1024, timeout=30.0) == b"late"
    finally:
        await stream.aclose()
        server_socket.close()


async def _serve_once_then_close() -> tuple[asyncio.Server, list[int]]:
    """A keep-alive server that answers one request on each connection, then closes it
    (no `Connection: close`): as a server ends an idle connection."""
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, accepted


async def _eof_seen(stream: net_backend.AsyncioStream) -> None:
    protocol = stream._protocol
    if not protocol.eof:
        protocol.waiter = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(protocol.waiter, 5)


async def test_an_idle_connection_is_asked_if_readable_without_a_syscall(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool asks every idle connection this on each request it hands out; the loop
    reads the socket, so the protocol knows, and a poll(2) each is not made."""

    def no_poll(*args: Any) -> Any:
        raise AssertionError("poll(2) on a socket the loop reads")

    monkeypatch.setattr(select, "poll", no_poll)  # httpcore2's is_socket_readable uses it
    server, _ = await _serve_once_then_close()
    port = server.sockets[0].getsockname()[1]
    stream = await net_backend.AsyncioBackend().connect_tcp("127.0.0.1", port)
    try:
        assert stream.get_extra_info("is_readable") is False
        await stream.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        assert isinstance(stream, net_backend.AsyncioStream)
        await _eof_seen(stream)  # the answer, then the server's close
        assert stream.get_extra_info("is_readable") is True
    finally:
        await stream.aclose()
        server.close()


async def test_the_pool_does_not_reuse_a_connection_the_server_closed() -> None:
    server, accepted = await _serve_once_then_close()
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    async with httpcore2.AsyncConnectionPool(network_backend=net_backend.AsyncioBackend()) as pool:
        first = await pool.request("GET", url)
        assert first.content == b"ok"
        [conn] = pool.connections
        stream = conn._connection._network_stream  # type: ignore[union-attr]
        await _eof_seen(stream)
        second = await pool.request("GET", url)  # not on the closed one: a new connection
        assert second.status == 200 and second.content == b"ok"
        assert len(accepted) == 2
    server.close()
