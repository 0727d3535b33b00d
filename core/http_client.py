"""The httpx2 client under the SDK: its defaults, plus freeing each request body once sent.

The SDK encodes the whole conversation as the body of every request, and httpx keeps
that body on the request, and httpcore on its own request, both held by the streamed
response until the reply ends: for as long as a turn streams, a second copy of the
agent's conversation stays alive. Nothing reads the body again once the response has
come (a retry builds a new request), except a redirect, which resends it. So the body
goes into one holder that every layer shares (`HeldBody`), and a response that is not
a redirect empties it.

The network transport is httpx2's, as the SDK sets it up, reading through
`core.net_backend` (plain asyncio) instead of anyio (`NetworkTransport`); with a proxy
in the environment the SDK's own setup (its proxy mounts) is kept. For an `http://`
endpoint (a local server, the simulator on a port) no SSL context is built: httpx2's
transport always makes one up front (35 ms: the CA store is read), though no connection
will use it (`PlainHTTPTransport`).

The pool holds as many connections as the run streams at once (`connection_limits`): the
SDK's default caps it at 1000 (and keeps 100 idle), so a run of more than 999 agents at
once had the rest wait, silently, for another agent's turn to end, and a thousand agents
that ended a turn together had 900 connections closed only to open 900 new ones (each a
TLS handshake against the API) for their next turn. Past a few hundred streams the pool
is split (`core.pool_shards`): httpcore2 walks all of a pool's connections at every
request and every reply's end.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import httpx2
from anthropic._constants import DEFAULT_CONNECTION_LIMITS

from core.chunked_body import StreamingConnectionPool
from core.net_backend import AsyncioBackend
from core.pool_shards import ShardedPool, shards_for

EMPTY_BODY = b""
DEFAULT_BASE_URL = "https://api.anthropic.com"  # the SDK's, when no base URL is given


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


def connection_limits(streams: int | None = None) -> httpx2.Limits:
    """The SDK's pool limits, raised to hold `streams` requests at once, every one of them
    kept open between turns (None: the SDK's limits)."""
    default = DEFAULT_CONNECTION_LIMITS
    if streams is None:
        return default
    most = max(default.max_connections or 0, streams)
    idle = max(default.max_keepalive_connections or 0, streams)
    return httpx2.Limits(
        max_connections=most,
        max_keepalive_connections=min(idle, most),
        keepalive_expiry=default.keepalive_expiry,
    )


# Descriptors a run holds besides its connections: the database and its journal, the
# workspace's files, commands' pipes, the event loop's own.
OTHER_FILES = 256


def allow_open_sockets(streams: int) -> None:
    """Raise this process's soft limit on open files (up to its hard limit) so that
    `streams` connections fit beside everything else. The usual soft limits (1024 on many
    Linux systems, 256 on macOS) are below what 1000 agents at once hold: past them a
    connection fails with "Too many open files". (No such limit to raise on Windows.)"""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = streams + OTHER_FILES
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def keepalive_socket_options() -> list[tuple[int, int, int | bool]]:
    """TCP keep-alive as the SDK's default transport sets it (idle 60 s, every 60 s, 5x)."""
    options: list[tuple[int, int, int | bool]] = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)]
    for name, value in (("TCP_KEEPINTVL", 60), ("TCP_KEEPCNT", 5), ("TCP_KEEPIDLE", 60)):
        opt = getattr(socket, name, None)
        if opt is not None:
            options.append((socket.IPPROTO_TCP, opt, value))
    return options


class NetworkTransport(httpx2.AsyncHTTPTransport):
    """httpx2's network transport as the SDK sets it up, on `AsyncioBackend`.

    The same connection pool (the SDK's limits, TCP keep-alive, HTTP/1.1), reading through
    `core.net_backend` instead of anyio (see there). For a plain `http://` endpoint
    (`plain=True`) no SSL context is built: httpx2's transport always makes one up front
    (35 ms: the CA store is read), though no connection will use it; httpcore2 then makes
    its verifying default context only for a connection that does use TLS (a redirect to
    https://), so nothing is less checked; only the unused setup is skipped.
    """

    def __init__(
        self,
        *,
        plain: bool,
        limits: httpx2.Limits = DEFAULT_CONNECTION_LIMITS,
        streams: int | None = None,
    ) -> None:
        # Not super().__init__(): that builds the SSL context and anyio's pool.
        ssl_context = None if plain else httpx2.create_ssl_context()
        backend = AsyncioBackend()

        def pool(part: httpx2.Limits) -> StreamingConnectionPool:
            return StreamingConnectionPool(
                ssl_context=ssl_context,
                max_connections=part.max_connections,
                max_keepalive_connections=part.max_keepalive_connections,
                keepalive_expiry=part.keepalive_expiry,
                socket_options=keepalive_socket_options(),
                network_backend=backend,
            )

        shards = shards_for(limits, streams)
        # Over a few hundred streams at once, pools of `SHARD` connections (see there).
        self._pool = pool(limits) if shards == 1 else ShardedPool(pool, limits, shards)  # type: ignore[assignment]


class PlainHTTPTransport(NetworkTransport):
    """`NetworkTransport` for an `http://` endpoint: no SSL context up front."""

    def __init__(
        self, *, limits: httpx2.Limits = DEFAULT_CONNECTION_LIMITS, streams: int | None = None
    ) -> None:
        super().__init__(plain=True, limits=limits, streams=streams)


def uses_plain_http(base_url: str | None) -> bool:
    """An `http://` endpoint reached directly (no proxy from the environment)."""
    if not base_url or httpx2.URL(base_url).scheme != "http":
        return False
    return not _proxied("http")


def _proxied(scheme: str) -> bool:
    """The environment names a proxy for `scheme`: the SDK's own setup (its proxy mounts)
    is kept then."""
    proxies = urllib.request.getproxies()
    return any(k in proxies for k in (scheme, "all"))


def make_http_client(
    transport: httpx2.AsyncBaseTransport | None = None,
    *,
    base_url: str | None = None,
    streams: int | None = None,
) -> httpx2.AsyncClient:
    """The SDK's default client (its limits, keep-alive, redirects) that frees sent bodies.

    `transport=None` is the network, as the SDK would set it up (without an SSL context
    when `base_url` is plain `http://`); the simulator passes its in-process transport.
    `streams`: how many requests may stream at once (the pool holds that many).
    """
    limits = connection_limits(streams)
    hooks: dict[str, list[Callable[..., Any]]] = {
        "request": [hold_request_body],
        "response": [release_request_body],
    }
    if transport is None:
        scheme = httpx2.URL(base_url or DEFAULT_BASE_URL).scheme
        if scheme in ("http", "https") and not _proxied(scheme):
            transport = (
                PlainHTTPTransport(limits=limits, streams=streams)
                if scheme == "http"
                else NetworkTransport(plain=False, limits=limits, streams=streams)
            )
    if transport is None:
        return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks, limits=limits)
    return anthropic.DefaultAsyncHttpxClient(event_hooks=hooks, transport=transport, limits=limits)
