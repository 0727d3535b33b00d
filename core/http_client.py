"""The httpx2 client under the SDK: its defaults, plus freeing each request body once sent.

The SDK encodes the whole conversation as the body of every request, and httpx keeps
that body on the request, which the streamed response holds until the reply ends: for
as long as a turn streams, a second copy of the agent's conversation stays alive.
Dropping it halved the memory growth of a 10-minute run of 100 agents (4.4 to 2.3 MB
a minute, `python -m bench.ui_load --minutes 10 --modes real --agents 100`). Nothing
reads the body again once the response has come (a retry builds a new request), except
a redirect, which resends it: so the body is kept when the response is a redirect.
"""

from __future__ import annotations

import anthropic
import httpx2

EMPTY_BODY = b""


async def release_request_body(response: httpx2.Response) -> None:
    """Response hook: drop the body of `response.request` unless it is to be resent."""
    if response.has_redirect_location:
        return
    request = response.request
    request.stream = httpx2.ByteStream(EMPTY_BODY)
    # httpx keeps the loaded body here as well; `request.content` then reads as empty.
    request._content = EMPTY_BODY


def make_http_client(transport: httpx2.AsyncBaseTransport | None = None) -> httpx2.AsyncClient:
    """The SDK's default client (its limits, keep-alive, redirects) that frees sent bodies.

    `transport=None` is the network, as the SDK would set it up; the simulator passes
    its in-process transport.
    """
    hooks = {"response": [release_request_body]}
    if transport is None:
        return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks)
    return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks, transport=transport)
