"""The simulator's HTTP server keeps a connection for the next request, as the Messages API
does: a client's turns reuse one socket; `Connection: close`, HTTP/1.0 and a body left
unread end it after the reply."""

from __future__ import annotations

import asyncio

from core.simulator.http import MAX_BODY, HttpServer, Request, Response


class Peers:
    """A handler answering with the request's path, and a raw client of one socket."""

    async def __call__(self, request: Request) -> Response:
        return Response(body=request.path.encode())

    async def ask(
        self, server: HttpServer, heads: list[bytes], body: bytes = b""
    ) -> tuple[list[bytes], bool]:
        """Send each head (and `body` after the last) on one socket; the replies read, and
        whether the server then closed the socket."""
        reader, writer = await asyncio.open_connection(server.host, server.port)
        replies: list[bytes] = []
        try:
            for index, head in enumerate(heads):
                writer.write(head + (body if index == len(heads) - 1 else b""))
                await writer.drain()
                reply_head = await reader.readuntil(b"\r\n\r\n")
                length = int(reply_head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                replies.append(reply_head + await reader.readexactly(length))
            closed = await asyncio.wait_for(reader.read(1), timeout=0.2) == b""
        except TimeoutError:
            closed = False
        finally:
            writer.close()
        return replies, closed


def _get(path: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "host: x", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def test_one_connection_serves_request_after_request() -> None:
    peers = Peers()
    async with HttpServer(peers) as server:
        replies, closed = await peers.ask(server, [_get("/a"), _get("/b"), _get("/c")])
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in replies] == [b"/a", b"/b", b"/c"]
    assert all(b"connection: keep-alive" in r for r in replies)
    assert not closed


async def test_connection_close_http10_and_an_unread_body_end_the_connection() -> None:
    peers = Peers()
    async with HttpServer(peers) as server:
        (reply,), closed = await peers.ask(server, [_get("/a", "connection: close")])
        assert closed and b"connection: close" in reply
        (reply,), closed = await peers.ask(server, [_get("/a", version="1.0")])
        assert closed and b"connection: close" in reply
        (reply,), closed = await peers.ask(
            server, [_get("/a", "connection: keep-alive", version="1.0")]
        )
        assert not closed and b"connection: keep-alive" in reply
        too_large = _get("/big", f"content-length: {MAX_BODY + 1}")
        (reply,), closed = await peers.ask(server, [too_large], body=b"x" * 1024)
        assert closed and b"connection: close" in reply


async def test_the_sdk_client_reuses_its_connection_across_turns() -> None:
    """Through the anthropic SDK (its httpx2 pool): three replies, one TCP connection."""
    import anthropic

    from core.simulator import Simulator, serve

    server = await serve(Simulator())
    try:
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=server.base_url)
        async with client:
            for _ in range(3):
                async with client.messages.stream(
                    model="claude-haiku-5-5",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "hello"}],
                ) as stream:
                    await stream.get_final_message()
    finally:
        await server.close()
    assert server.connections == 1
