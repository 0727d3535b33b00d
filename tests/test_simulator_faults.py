"""The api-errors scenario: each fault kind happens once, at a fixed request number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest

from core.simulator import Simulator, SimulatorTransport, serve
from core.simulator.scenarios.api_errors import FAULT_SCHEDULE

MESSAGES = [{"role": "user", "content": "Build a landing page"}]
SYSTEM = "You are a coding sub-agent."
TOOLS = [{"name": "list_files", "description": "ls", "input_schema": {"type": "object"}}]


@pytest.fixture(params=["transport", "loopback"])
async def client_and_sim(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[anthropic.AsyncAnthropic, Simulator]]:
    sim = Simulator("api-errors", tokens_per_s=20000, latency_s=0, seed=3)
    if request.param == "transport":
        http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
        yield (
            anthropic.AsyncAnthropic(
                api_key="s", base_url="http://simulator.invalid", http_client=http, max_retries=0
            ),
            sim,
        )
        return
    server = await serve(sim)
    yield anthropic.AsyncAnthropic(api_key="s", base_url=server.base_url, max_retries=0), sim
    await server.close()


async def one_turn(client: anthropic.AsyncAnthropic) -> Any:
    async with client.messages.stream(
        model="claude-haiku-5-5", max_tokens=1000, system=SYSTEM, tools=TOOLS, messages=MESSAGES
    ) as stream:
        async for _ in stream:
            pass
        return await stream.get_final_message()


async def test_each_fault_once(client_and_sim: tuple[anthropic.AsyncAnthropic, Simulator]) -> None:
    client, sim = client_and_sim
    seen: dict[int, str] = {}
    for number in range(1, 15):
        try:
            message = await one_turn(client)
        except anthropic.RateLimitError as exc:
            assert exc.response.headers["retry-after"] == "1"
            seen[number] = "rate_limit"
        except anthropic.InternalServerError as exc:
            seen[number] = "overloaded" if exc.status_code == 529 else "server_error"
        except anthropic.APIStatusError as exc:
            assert exc.status_code == 200 and exc.type == "overloaded_error"
            seen[number] = "stream_error"
        except (httpx2.RemoteProtocolError, anthropic.APIConnectionError):
            seen[number] = "drop"
        else:
            if message.stop_reason is None:
                seen[number] = "truncate"
            else:
                assert message.stop_reason == "tool_use"
    assert seen == FAULT_SCHEDULE
    assert sim.faults_injected == sorted(FAULT_SCHEDULE.items())


async def test_sdk_retries_through_http_faults() -> None:
    sim = Simulator("api-errors", tokens_per_s=20000, latency_s=0, seed=3)
    sim.scenario.schedule = {1: "overloaded", 2: "server_error"}  # type: ignore[attr-defined]
    http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
    client = anthropic.AsyncAnthropic(
        api_key="s", base_url="http://simulator.invalid", http_client=http, max_retries=2
    )
    message = await one_turn(client)
    assert message.stop_reason == "tool_use" and sim.requests == 3
