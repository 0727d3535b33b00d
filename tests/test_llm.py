"""ModelClient over the real SDK and a loopback fake API: streaming, content, usage, params."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import pytest

from core.catalog import Usage
from core.llm import (
    MissingKeyError,
    ModelClient,
    TurnRequest,
    build_params,
    make_client,
)
from tests.fakeapi import (
    DEFAULT_KEY,
    FakeAPI,
    Message,
    RedactedThinking,
    Text,
    Thinking,
    text_reply,
    tool_use_reply,
)

MODEL = "claude-haiku-5-5"
TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read a file.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {
        "name": "run_command",
        "description": "Run a command.",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
]


@dataclass
class RecordingSink:
    """A TurnSink that keeps everything it is told."""

    texts: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tool_uses: list[tuple[str, str]] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    tool_json: list[str] = field(default_factory=list)
    retries: list[tuple[int, float, str]] = field(default_factory=list)

    def on_text(self, text: str) -> None:
        self.texts.append(text)

    def on_thinking(self, text: str) -> None:
        self.thinking.append(text)

    def on_tool_use(self, tool_use_id: str, name: str) -> None:
        self.tool_uses.append((tool_use_id, name))

    def on_tool_input(self, partial_json: str) -> None:
        self.tool_json.append(partial_json)

    def on_usage(self, usage: Usage) -> None:
        self.usages.append(usage)

    def on_retry(self, try_number: int, delay_s: float, reason: str) -> None:
        self.retries.append((try_number, delay_s, reason))


def request(**changes: Any) -> TurnRequest:
    base: dict[str, Any] = {
        "model": MODEL,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hello."}],
        "tools": [],
        "max_tokens": 256,
    }
    base.update(changes)
    return TurnRequest(**base)


async def test_text_reply_streams_in_pieces(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(text_reply("Hello there, operator.", pieces=4, input_tokens=30, output_tokens=7))
    sink = RecordingSink()

    result = await ModelClient(client).stream_turn(request(), sink)

    assert len(sink.texts) == 4
    assert "".join(sink.texts) == "Hello there, operator."
    assert result.content == [{"type": "text", "text": "Hello there, operator."}]
    assert result.stop_reason == "end_turn"
    assert result.usage == Usage(input_tokens=30, output_tokens=7)
    assert sink.usages[-1] == result.usage
    assert sink.retries == []
    sent = fake_api.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.body["stream"] is True
    assert sent.body["model"] == MODEL
    assert sent.body["system"] == "You are terse."
    assert "tools" not in sent.body
    assert "thinking" not in sent.body
    assert sent.api_key == DEFAULT_KEY


async def test_parallel_tool_use_reply(fake_api: FakeAPI, client: anthropic.AsyncAnthropic) -> None:
    calls: list[tuple[str, dict[str, Any]]] = [
        ("read_file", {"path": "src/app.py", "limit": None}),
        ("run_command", {"command": "pytest -q", "env": {"A": "1"}}),
    ]
    fake_api.push(tool_use_reply(calls, text="Let me look.", pieces=5))
    sink = RecordingSink()

    result = await ModelClient(client).stream_turn(request(tools=TOOLS), sink)

    assert result.stop_reason == "tool_use"
    assert result.content[0] == {"type": "text", "text": "Let me look."}
    uses = result.content[1:]
    assert [u["type"] for u in uses] == ["tool_use", "tool_use"]
    assert [(u["name"], u["input"]) for u in uses] == calls  # nested None kept
    assert all(u["id"].startswith("toolu_") for u in uses)
    assert sink.tool_uses == [(u["id"], u["name"]) for u in uses]
    assert fake_api.requests[0].tools == TOOLS


async def test_usage_with_cache_tokens_and_running_output_totals(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(
        text_reply(
            "cached",
            input_tokens=12,
            cache_creation_input_tokens=2000,
            cache_read_input_tokens=8000,
            start_output_tokens=3,
            output_totals=(10, 25),
            output_tokens=40,
        )
    )
    sink = RecordingSink()

    result = await ModelClient(client).stream_turn(request(), sink)

    expected = Usage(
        input_tokens=12, output_tokens=40, cache_read_tokens=8000, cache_write_tokens=2000
    )
    assert result.usage == expected
    assert result.usage.prompt_tokens == 12 + 2000 + 8000
    # message_start, then one update per message_delta; output replaced, never summed.
    assert [u.output_tokens for u in sink.usages] == [3, 10, 25, 40]
    assert all(u.cache_read_tokens == 8000 for u in sink.usages)
    assert all(u.cache_write_tokens == 2000 for u in sink.usages)
    assert sink.usages[-1] == expected


async def test_cache_marks_system_previous_turn_end_and_last_block_without_mutating(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Read two files."},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {"path": "b"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "B", "is_error": True},
            ],
        },
    ]
    tools = copy.deepcopy(TOOLS)
    before = (copy.deepcopy(history), copy.deepcopy(tools))
    fake_api.push(text_reply("done"))

    await ModelClient(client).stream_turn(
        request(messages=history, tools=tools, cache=True), RecordingSink()
    )

    assert (history, tools) == before
    body = fake_api.requests[0].body
    mark = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "You are terse.", "cache_control": mark}]
    # The system breakpoint caches the tools before it too: no marker of their own.
    assert "cache_control" not in json.dumps(body["tools"])
    last = body["messages"][-1]["content"]
    assert "cache_control" not in last[0]
    assert last[1] == {**history[2]["content"][1], "cache_control": mark}
    # The previous turn's prompt ended with the first user message: read back from there.
    first = body["messages"][0]["content"]
    assert first[-1]["cache_control"] == mark
    assert "cache_control" not in json.dumps(body["messages"][1])
    assert json.dumps(body).count("cache_control") == 3  # of the API's 4
    # Tool results answer the tool_use ids of the reply just before, in one user message.
    answered = {b["tool_use_id"] for b in last}
    asked = {b["id"] for b in body["messages"][1]["content"]}
    assert answered == asked


def test_cache_turns_string_content_into_a_marked_text_block() -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
    params = build_params(request(messages=messages, cache=True))
    assert params["messages"][-1]["content"] == [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    ]
    assert messages == [{"role": "user", "content": "hi"}]
    plain = build_params(request(messages=messages))
    assert plain["messages"] == messages
    assert plain["system"] == "You are terse."


def test_cache_skips_thinking_blocks_and_empty_system() -> None:
    messages: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "x"}, {"type": "thinking", "thinking": "t"}],
        }
    ]
    params = build_params(request(messages=messages, system="", cache=True))
    assert "system" not in params
    content = params["messages"][-1]["content"]
    assert content[0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in content[1]


async def test_thinking_is_requested_and_blocks_come_back_as_received(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(
        Message(
            [
                Thinking("Plan: read then answer.", signature="sig-abc"),
                RedactedThinking("opaque-data"),
                Text("Answer."),
            ]
        )
    )
    sink = RecordingSink()

    result = await ModelClient(client).stream_turn(request(thinking=True), sink)

    assert fake_api.requests[0].body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert "".join(sink.thinking) == "Plan: read then answer."
    assert result.content == [
        {"type": "thinking", "thinking": "Plan: read then answer.", "signature": "sig-abc"},
        {"type": "redacted_thinking", "data": "opaque-data"},
        {"type": "text", "text": "Answer."},
    ]

    # The reply goes back in the history unchanged.
    fake_api.push(text_reply("ok"))
    history = [
        {"role": "user", "content": "Say hello."},
        {"role": "assistant", "content": result.content},
        {"role": "user", "content": "Go on."},
    ]
    await ModelClient(client).stream_turn(request(messages=history, thinking=True), sink)
    assert fake_api.requests[1].messages[1]["content"] == result.content


def test_make_client_without_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env-must-not-be-used")
    for key in (None, "", "   "):
        with pytest.raises(MissingKeyError, match="no Anthropic API key"):
            make_client(key, None)


async def test_make_client_with_a_transport() -> None:
    frames = b"".join(f for f in text_reply("via transport").frames(MODEL) if isinstance(f, bytes))
    seen: list[httpx2.Request] = []

    def handle(req: httpx2.Request) -> httpx2.Response:
        seen.append(req)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=frames)

    sdk = make_client("sk-transport", "http://sim.invalid", transport=httpx2.MockTransport(handle))
    try:
        result = await ModelClient(sdk).stream_turn(request(), RecordingSink())
    finally:
        await sdk.close()
    assert result.content == [{"type": "text", "text": "via transport"}]
    assert seen[0].url.path == "/v1/messages"
    assert seen[0].headers["authorization"] == "Bearer sk-transport"
