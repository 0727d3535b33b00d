"""The simulator through the real anthropic SDK, in-process and on a loopback port."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest

from core.catalog import Catalog
from core.simulator import Simulator, SimulatorTransport, serve
from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation, Scenario

CEO_TOOLS = ["spawn_agent", "wait_for_agents", "steer_agent", "kill_agent", "retry_agent",
             "run_check", "read_file"]  # fmt: skip
CODING_TOOLS = ["read_file", "list_files", "search_files", "write_file", "edit_file",
                "run_command"]  # fmt: skip
CODING_SYSTEM = "You are a coding sub-agent. Write working code."


def tools(names: list[str]) -> list[dict[str, Any]]:
    return [{"name": n, "description": n, "input_schema": {"type": "object"}} for n in names]


class LongText(Scenario):
    """Always answers with about 300 tokens of text."""

    def reply(self, conv: Conversation) -> Reply:
        return Reply().text("word " * 240)


@pytest.fixture(params=["transport", "loopback"])
async def make_client(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    servers = []

    async def make(sim: Simulator, **kw: Any) -> anthropic.AsyncAnthropic:
        if request.param == "transport":
            client = httpx2.AsyncClient(transport=SimulatorTransport(sim))
            return anthropic.AsyncAnthropic(
                api_key="simulator", base_url="http://simulator.invalid", http_client=client, **kw
            )
        server = await serve(sim)
        servers.append(server)
        return anthropic.AsyncAnthropic(api_key="k", base_url=server.base_url, **kw)

    yield make
    for server in servers:
        await server.close()


def fast(scenario: str | Scenario = "default", **kw: Any) -> Simulator:
    return Simulator(scenario, tokens_per_s=20000, latency_s=0, seed=1, **kw)


async def test_text_streams_before_the_end(make_client: Any) -> None:
    # ~300 tokens at 150/s take 2 s to stream; a buffered body would show nothing until then.
    client = await make_client(Simulator(LongText(), tokens_per_s=150, latency_s=0))
    start = time.monotonic()

    async def first_text() -> float:
        async with client.messages.stream(
            model="claude-haiku-5-5", max_tokens=1000, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            async for event in stream:
                if event.type == "text":
                    return time.monotonic() - start
        raise AssertionError("no text")

    assert await asyncio.wait_for(first_text(), 10) < 1.0


async def test_text_reply_completes(make_client: Any) -> None:
    client = await make_client(Simulator(LongText(), tokens_per_s=5000, latency_s=0))
    texts = 0
    async with client.messages.stream(
        model="claude-haiku-5-5", max_tokens=1000, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        async for event in stream:
            texts += event.type == "text"
        message = await stream.get_final_message()
    assert message.stop_reason == "end_turn" and message.usage.output_tokens >= 240
    assert texts > 10 and message.content[0].type == "text"
    assert message.content[0].text == "word " * 240


async def test_ceo_turn_one_spawns_parallel_agents(make_client: Any) -> None:
    client = await make_client(fast())
    message = await client.messages.create(
        model="claude-opus-5-5", max_tokens=4000, tools=tools(CEO_TOOLS),
        messages=[{"role": "user", "content": "Research competitors and build a landing page"}],
    )  # fmt: skip
    spawns = [b for b in message.content if b.type == "tool_use"]
    assert message.stop_reason == "tool_use" and 2 <= len(spawns) <= 4
    assert len({b.id for b in spawns}) == len(spawns)
    roles = [dict(b.input)["role"] for b in spawns]
    assert set(roles) == {"research", "writer", "coding"}
    assert all(dict(b.input)["task"] for b in spawns)


async def test_streamed_tool_input_is_valid_json(make_client: Any) -> None:
    client = await make_client(fast())
    pieces = 0
    async with client.messages.stream(
        model="claude-haiku-5-5", max_tokens=8000, system=CODING_SYSTEM, tools=tools(CODING_TOOLS),
        messages=[{"role": "user", "content": "Build a page at deliverables/site/index.html"}],
    ) as stream:  # fmt: skip
        async for event in stream:
            if event.type == "input_json":
                pieces += 1
        message = await stream.get_final_message()
    calls = [b for b in message.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["list_files", "search_files"]
    assert pieces >= 2 and all(c.id.startswith("toolu_") for c in calls)
    assert dict(calls[0].input) == {"path": "."}


async def test_prompt_cache_read_after_write(make_client: Any) -> None:
    client = await make_client(fast())
    system = [{"type": "text", "text": "x" * 12000, "cache_control": {"type": "ephemeral"}}]
    kw: dict[str, Any] = dict(model="claude-haiku-5-5", max_tokens=100, system=system,
                              messages=[{"role": "user", "content": "hello"}])  # fmt: skip
    first = await client.messages.create(**kw)
    second = await client.messages.create(**kw)
    assert (first.usage.cache_creation_input_tokens or 0) > 2048
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens > 0
    plain = await client.messages.create(**dict(kw, system="y" * 12000))
    assert plain.usage.cache_read_input_tokens == plain.usage.cache_creation_input_tokens == 0
    assert plain.usage.input_tokens > 2048


async def test_prompt_cache_minimum_is_the_models_own(make_client: Any) -> None:
    """A ~1500-token prefix: above Sonnet's minimum (1024), below Haiku 5.5's (2048)."""
    client = await make_client(fast())
    system = [{"type": "text", "text": "z" * 6000, "cache_control": {"type": "ephemeral"}}]
    kw: dict[str, Any] = dict(max_tokens=100, system=system,
                              messages=[{"role": "user", "content": "hello"}])  # fmt: skip
    haiku = await client.messages.create(model="claude-haiku-5-5", **kw)
    sonnet = await client.messages.create(model="claude-sonnet-5-5", **kw)
    assert Catalog().min_cache_tokens("claude-haiku-5-5") > haiku.usage.input_tokens > 1024
    assert haiku.usage.cache_creation_input_tokens == 0
    assert (sonnet.usage.cache_creation_input_tokens or 0) > 1024


async def test_unknown_model_is_404(make_client: Any) -> None:
    client = await make_client(fast(), max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as info:
        await client.messages.create(
            model="claude-nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 404
    extra = await make_client(fast(extra_models=["my-model"]), max_retries=0)
    ok = await extra.messages.create(
        model="my-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.model == "my-model"


async def test_unanswered_tool_use_is_400(make_client: Any) -> None:
    client = await make_client(fast(), max_retries=0)
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {}}]},
        {"role": "user", "content": "no result here"},
    ]  # fmt: skip
    with pytest.raises(anthropic.BadRequestError, match="tool_result"):
        await client.messages.create(model="claude-haiku-5-5", max_tokens=10, messages=messages)


async def test_count_tokens_and_missing_fields(make_client: Any) -> None:
    client = await make_client(fast(), max_retries=0)
    count = await client.messages.count_tokens(
        model="claude-haiku-5-5", messages=[{"role": "user", "content": "a" * 400}]
    )
    assert 100 <= count.input_tokens <= 110
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        await client.post("/v1/messages", cast_to=object, body={"model": "claude-haiku-5-5",
                          "messages": [{"role": "user", "content": "x"}]})  # fmt: skip


async def test_thinking_blocks_are_signed_and_checked(make_client: Any) -> None:
    client = await make_client(fast(), max_retries=0)
    kw: dict[str, Any] = dict(model="claude-opus-5-5", max_tokens=4000, tools=tools(CEO_TOOLS),
                              thinking={"type": "adaptive", "display": "summarized"})  # fmt: skip
    first = await client.messages.create(
        messages=[{"role": "user", "content": "Write a report"}], **kw
    )
    assert first.content[0].type == "thinking" and first.content[0].signature
    history = [b.model_dump() for b in first.content]
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": json.dumps(
        {"agent_id": f"a-{i}", "state": "running"})}
        for i, b in enumerate(first.content) if b.type == "tool_use"]  # fmt: skip
    messages: list[Any] = [{"role": "user", "content": "Write a report"},
                           {"role": "assistant", "content": history},
                           {"role": "user", "content": results}]  # fmt: skip
    again = await client.messages.create(messages=messages, **kw)
    assert any(b.type == "tool_use" for b in again.content)
    history[0]["thinking"] = "tampered"
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        await client.messages.create(messages=messages, **kw)


async def test_max_tokens_cuts_the_reply(make_client: Any) -> None:
    client = await make_client(fast(LongText()))
    message = await client.messages.create(
        model="claude-haiku-5-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens <= 20


async def test_auth_header_required() -> None:
    sim = fast()
    server = await serve(sim)
    try:
        async with httpx2.AsyncClient() as http:
            body = {"model": "claude-haiku-5-5", "max_tokens": 5,
                    "messages": [{"role": "user", "content": "x"}]}  # fmt: skip
            bare = await http.post(f"{server.base_url}/v1/messages", json=body)
            keyed = await http.post(
                f"{server.base_url}/v1/messages", json=body, headers={"x-api-key": "k"}
            )
        assert bare.status_code == 401 and bare.json()["error"]["type"] == "authentication_error"
        assert keyed.status_code == 200 and keyed.headers["request-id"].startswith("req_")
    finally:
        await asyncio.wait_for(server.close(), 5)
