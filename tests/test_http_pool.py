"""The client's connection pool holds every turn a run streams at once (the SDK's default
capped it at 1000, and kept only 100 open between turns)."""

from __future__ import annotations

import asyncio
import json
import resource
from pathlib import Path

import httpx2
import pytest
from anthropic._constants import DEFAULT_CONNECTION_LIMITS

import core.http_client
import core.pool_shards
from core.config import Settings
from core.http_client import OTHER_FILES, allow_open_sockets, connection_limits
from core.llm import make_client
from core.model_access import open_model_access
from core.pool_shards import SHARD, ShardedPool, shard_limits, shards_for
from core.simulator import wire
from core.simulator.http import HttpServer, Request, Response


def _pool(client: object) -> object:
    return client._client._transport._pool  # type: ignore[attr-defined]


def _capacity(pool: object) -> tuple[int, int]:
    """(connections, kept-alive connections) a pool may hold, over its shards if split."""
    pools = pool.pools if isinstance(pool, ShardedPool) else [pool]
    return (
        sum(p._max_connections for p in pools),  # type: ignore[attr-defined]
        sum(p._max_keepalive_connections for p in pools),  # type: ignore[attr-defined]
    )


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
        assert isinstance(pool, ShardedPool)
        most, idle = _capacity(pool)
        assert 1501 <= most < 1501 + len(pool.pools)  # each pool's share rounded up
        assert idle == most
        assert all(p._max_connections <= SHARD for p in pool.pools)  # type: ignore[attr-defined]
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


async def _all_at_once(streams: int) -> list[list[int]]:
    """`streams` requests at once through a client made for them, against a server that
    answers none until all have come; the requests each of the client's pools held then."""
    arrived: list[str] = []
    all_in = asyncio.Event()
    loads: list[list[int]] = []
    client = None

    async def handle(request: Request) -> Response:
        arrived.append(request.path)
        if len(arrived) == streams:
            pool = _pool(client)
            pools = pool.pools if isinstance(pool, ShardedPool) else [pool]
            loads.append([len(p._requests) for p in pools])  # type: ignore[attr-defined]
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
    return loads


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_every_stream_gets_a_connection_at_once_past_the_sdk_cap(
    no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the SDK's cap made 2 here, a client for 5 streams still has all 5 requests
    at the server at once: the server answers none until all 5 have come."""
    monkeypatch.setattr(
        core.http_client,
        "DEFAULT_CONNECTION_LIMITS",
        httpx2.Limits(max_connections=2, max_keepalive_connections=1),
    )
    assert await _all_at_once(5) == [[5]]  # one pool: 5 is under one pool's worth


async def test_a_split_pool_takes_every_stream_at_once_filling_pools_in_turn(
    no_proxy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pools of 2 connections here: 5 streams fill the first two pools, then the third."""
    monkeypatch.setattr(
        core.http_client,
        "DEFAULT_CONNECTION_LIMITS",
        httpx2.Limits(max_connections=2, max_keepalive_connections=1),
    )
    monkeypatch.setattr(core.pool_shards, "SHARD", 2)
    assert await _all_at_once(5) == [[2, 2, 1]]


def test_shards_split_the_limits() -> None:
    limits = httpx2.Limits(max_connections=1001, max_keepalive_connections=1001)
    assert shards_for(limits, None) == 1
    assert shards_for(limits, SHARD) == 1  # one pool's worth: one pool, as before
    assert shards_for(limits, 1001) == 11
    part = shard_limits(limits, 11)
    assert part.max_connections == 91 and part.max_keepalive_connections == 91  # 11 x 91 = 1001
    # A pool may keep all its connections alive, up to the limit's number of them.
    assert shard_limits(DEFAULT_CONNECTION_LIMITS, 10).max_keepalive_connections == 100
    assert shard_limits(DEFAULT_CONNECTION_LIMITS, 1) == DEFAULT_CONNECTION_LIMITS


class _FakePool:
    def __init__(self, limits: httpx2.Limits) -> None:
        self._requests: list[object] = []


def test_a_request_goes_to_the_first_pool_with_room_else_the_least_busy() -> None:
    limits = httpx2.Limits(max_connections=6, max_keepalive_connections=6)
    sharded = ShardedPool(_FakePool, limits, 3)  # type: ignore[arg-type]
    pools = sharded.pools
    assert sharded.room == 2
    assert sharded.pick() is pools[0]
    pools[0]._requests[:] = [1, 2]  # type: ignore[attr-defined]
    assert sharded.pick() is pools[1]
    pools[1]._requests[:] = [1, 2]  # type: ignore[attr-defined]
    pools[2]._requests[:] = [1, 2, 3]  # type: ignore[attr-defined]
    assert sharded.pick() is pools[0]  # all full: the least busy queues it
    pools[0]._requests[:] = [1]  # type: ignore[attr-defined]
    assert sharded.pick() is pools[0]


class _Limits:
    """`resource`'s file-limit calls on a fake limit."""

    def __init__(self, soft: int, hard: int) -> None:
        self.limit = (soft, hard)
        self.sets: list[tuple[int, int]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.limit

    def setrlimit(self, which: int, limit: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.sets.append(limit)
        self.limit = limit


@pytest.mark.parametrize(
    ("soft", "hard", "expected"),
    [
        (1024, 1_048_576, (1001 + OTHER_FILES, 1_048_576)),  # a common Linux default
        (256, resource.RLIM_INFINITY, (1001 + OTHER_FILES, resource.RLIM_INFINITY)),
        (256, 1000, (1000, 1000)),  # as far as the hard limit lets it
        (20_000, 20_000, None),  # room enough: left as it is
        (resource.RLIM_INFINITY, resource.RLIM_INFINITY, None),
    ],
)
def test_the_open_file_limit_is_raised_to_hold_every_stream(
    soft: int, hard: int, expected: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Limits(soft, hard)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    allow_open_sockets(1001)
    assert fake.sets == ([expected] if expected else [])


def test_a_run_with_a_key_raises_its_open_file_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Limits(256, 100_000)
    monkeypatch.setattr(resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(resource, "setrlimit", fake.setrlimit)
    settings = Settings().with_overrides(
        simulate=False, max_concurrent=999, workspace=tmp_path, api_base_url="http://127.0.0.1:9"
    )
    access = open_model_access(settings, env={"ANTHROPIC_API_KEY": "sk-test"})
    asyncio.run(access.aclose())
    assert fake.sets == [(1000 + OTHER_FILES, 100_000)]
