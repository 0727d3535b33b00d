"""The httpx2 client under the SDK: its defaults, plus freeing each request body once sent.

The SDK encodes the whole conversation as the body of every request, and httpx keeps
that body on the request, and httpcore on its own request, both held by the streamed
response until the reply ends: for as long as a turn streams, a second copy of the
agent's conversation stays alive. Nothing reads the body again once the response has
come (a retry builds a new request), except a redirect, which resends it. So the body
goes into one holder that every layer shares (`HeldBody`), and a response that is not
a redirect empties it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx2

EMPTY_BODY = b""


class HeldBody(httpx2.AsyncByteStream):
    """A request body that can be let go of while the request object lives on."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body

    def release(self) -> None:
        self._body = EMPTY_BODY


async def hold_request_body(request: httpx2.Request) -> None:
    """Request hook: put a loaded body into a `HeldBody`, which the transport then reads."""
    if isinstance(request.stream, httpx2.ByteStream):
        request.stream = HeldBody(request.read())


async def release_request_body(response: httpx2.Response) -> None:
    """Response hook: drop the body of `response.request` unless it is to be resent."""
    request = response.request
    held = request.stream if isinstance(request.stream, HeldBody) else None
    if response.has_redirect_location:
        if held is not None:
            # The redirect's request resends this same holder; the redirected one, kept
            # in the final response's history, need not keep a copy of its own.
            request._content = EMPTY_BODY
        return
    if held is not None:
        held.release()  # httpcore's request holds this same object
    request.stream = httpx2.ByteStream(EMPTY_BODY)
    # httpx keeps the loaded body here as well; `request.content` then reads as empty.
    request._content = EMPTY_BODY


def make_http_client(transport: httpx2.AsyncBaseTransport | None = None) -> httpx2.AsyncClient:
    """The SDK's default client (its limits, keep-alive, redirects) that frees sent bodies.

    `transport=None` is the network, as the SDK would set it up; the simulator passes
    its in-process transport.
    """
    hooks: dict[str, list[Callable[..., Any]]] = {
        "request": [hold_request_body],
        "response": [release_request_body],
    }
    if transport is None:
        return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks)
    return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks, transport=transport)
