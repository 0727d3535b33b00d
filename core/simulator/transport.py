"""An httpx2 transport that serves requests from a Simulator in-process, truly streaming.

`AsyncAnthropic(api_key="simulator", base_url="http://simulator.invalid",
http_client=httpx2.AsyncClient(transport=SimulatorTransport(sim)))`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2

from core.simulator.engine import Simulator
from core.simulator.http import DropConnection, Request


class _SimulatorStream(httpx2.AsyncByteStream):
    """Hands each chunk to the client as the simulator produces it; never buffers."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._source:
                yield chunk
        except DropConnection:
            raise httpx2.RemoteProtocolError(
                "peer closed connection without sending complete message body "
                "(incomplete chunked read)"
            ) from None

    async def aclose(self) -> None:
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


class SimulatorTransport(httpx2.AsyncBaseTransport):
    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.url.raw_path.decode("ascii", "replace")
        response = await self.simulator.handle(Request(request.method, path, headers, body))
        if response.stream is None:
            return httpx2.Response(
                response.status, headers=response.headers, content=response.body, request=request
            )
        return httpx2.Response(
            response.status,
            headers=response.headers,
            stream=_SimulatorStream(response.stream),
            request=request,
        )
