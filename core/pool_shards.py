"""Several small connection pools as one, for a run that streams hundreds of turns at once.

httpcore2's pool manages its state in one pass over all its connections (and all its
requests) every time a request comes or a reply ends. With N turns streaming, that is
O(N) per turn end and O(N^2) per wave of them: at 500 agents over HTTP the passes were
14% of the event loop, at 1000 they grow twice as fast again. `ShardedPool` holds pools of
at most `SHARD` connections, each pass walking one of them.

A request goes to the first pool with room (fewer requests than its share of the limit),
so a run of up to one pool's worth uses one pool, its kept-alive connections reused as
before, and no request waits while the limit as a whole has room: if every pool were
full, the limit would be. Only when it is does a request queue, at the least busy pool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import httpcore2
import httpx2

SHARD = 100  # connections per pool: the SDK's own number of kept-alive connections

MakePool = Callable[[httpx2.Limits], httpcore2.AsyncConnectionPool]


def shard_limits(limits: httpx2.Limits, shards: int) -> httpx2.Limits:
    """One pool's part of `limits`, when `shards` pools share them."""
    most = math.ceil((limits.max_connections or 0) / shards)
    idle = min(most, limits.max_keepalive_connections or 0)
    return httpx2.Limits(
        max_connections=most,
        max_keepalive_connections=idle,
        keepalive_expiry=limits.keepalive_expiry,
    )


def shards_for(limits: httpx2.Limits, streams: int | None) -> int:
    """How many pools: one unless the run streams more than one pool's worth at once."""
    if streams is None or streams <= SHARD:
        return 1
    return math.ceil((limits.max_connections or streams) / SHARD)


class ShardedPool:
    """The httpcore2 pool interface httpx2's transport uses, over `shards` pools."""

    def __init__(self, make: MakePool, limits: httpx2.Limits, shards: int) -> None:
        part = shard_limits(limits, shards)
        self.room = part.max_connections or 0
        self.pools = [make(part) for _ in range(shards)]

    def pick(self) -> httpcore2.AsyncConnectionPool:
        """The first pool with room, else the least busy."""
        for pool in self.pools:
            if len(pool._requests) < self.room:
                return pool
        return min(self.pools, key=lambda pool: len(pool._requests))

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        # The chosen pool queues the request before its first await: the next pick sees it.
        return await self.pick().handle_async_request(request)

    @property
    def connections(self) -> list[httpcore2.AsyncConnectionInterface]:
        return [c for pool in self.pools for c in pool.connections]

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()

    async def __aenter__(self) -> ShardedPool:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()
