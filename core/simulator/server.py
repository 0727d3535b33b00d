"""Serve a Simulator on a loopback port (`delegate simulator --port N`)."""

from __future__ import annotations

from core.simulator.engine import Simulator
from core.simulator.http import HttpServer


async def serve(simulator: Simulator, host: str = "127.0.0.1", port: int = 0) -> HttpServer:
    """Start serving and return the running server; `await server.close()` to stop.

    `server.base_url` is what to give the SDK as `base_url`; `port=0` picks a free port.
    """
    server = HttpServer(simulator.handle, host, port)
    await server.start()
    return server
