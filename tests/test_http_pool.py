"""The client's connection pool holds every turn a run streams at once (the SDK's default
capped it at 1000, and kept only 100 open between turns)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx2
import pytest
from anthropic._constants import DEFAULT_CONNECTION_LIMITS

import core.http_client
from core.config import Settings
from core.http_client import connection_limits
from core.llm import make_client
from core.model_access import open_model_access
from core.simulator import wire
from core.simulator.http import HttpServer, Request, Response


def _pool(client: object) -> object:
    return client._client._transport._pool  # type: ignore[attr-defined]


def test_limits_grow_with_the_streams_and_never_shrink() -> None:
    assert connection_limits(None) == DEFAULT_CONNECTION_LIMITS
    small = connection_limits(6)
    assert small.max_connections == DEFAULT_CONNECTION_LIMITS.max_connections
    assert small.max_keepalive_connections == DEFAULT_CONNECTION_LIMITS.max_keepalive_connections
    big = connection_limits(1501)
    assert big.max_connections == 1501
    assert big.max_keepalive_connections == 1501  # every one kept between turns
    assert big.keepalive_expiry == DEFAULT_CONNECTION_LIMITS.keepalive_expiry
    assert connection_limits(500).max_keepalive_connections == 500


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9", "https://api.example.invalid"])
async def test_a_run_of_1500_agents_at_once_gets_a_pool_of_1501(
    base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings().with_overrides(
        simulate=False, max_concurrent=1500, workspace=tmp_path, api_base_url=base_url
    )
    access = open_model_access(settings, env={"ANTHROPIC_API_KEY": "sk-test"})
    try:
        pool = _pool(access.client)
        assert pool._max_connections == 1501  # type: ignore[attr-defined]
        assert pool._max_keepalive_connections == 1501  # type: ignore[attr-defined]
    finally:
        await access.aclose()


async def test_the_sdk_setup_behind_a_proxy_gets_the_limits_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    client = make_client("sk-test", "http://127.0.0.1:8", streams=1200)
    try:
        mounts = client._client._mounts  # the SDK's proxy transport for http://
        pools = [t._pool for t in mounts.values() if t is not None]
        assert pools and all(p._max_connections == 1200 for p in pools)
    finally:
        await client.close()


async def test_every_stream_gets_a_connection_at_once_past_the_sdk_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the SDK's cap made 2 here, a client for 5 streams still has all 5 requests
    at the server at once: the server answers none until all 5 have come."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(
        core.http_client,
        "DEFAULT_CONNECTION_LIMITS",
        httpx2.Limits(max_connections=2, max_keepalive_connections=1),
    )
    streams = 5
    arrived: list[str] = []
    all_in = asyncio.Event()

    async def handle(request: Request) -> Response:
        arrived.append(request.path)
        if len(arrived) == streams:
            all_in.set()
        await all_in.wait()
        usage = wire.usage_json(1, 0, 0, 1)
        body = wire.message_json("msg_1", "claude-haiku-4-5", [], "end_turn", usage)
        return Response(200, dict(wire.JSON_HEADERS), json.dumps(body).encode())

    async with HttpServer(handle) as server:
        client = make_client("sk-test", server.base_url, max_retries=0, streams=streams)
        try:
            async with asyncio.timeout(20):
                replies = await asyncio.gather(*(
                    client.messages.create(
                        model="claude-haiku-4-5",
                        max_tokens=8,
                        messages=[{"role": "user", "content": f"turn {i}"}],
                    )
                    for i in range(streams)
                ))  # fmt: skip
        finally:
            await client.close()
    assert len(replies) == streams
    assert len(arrived) == streams
