"""A turn's request as `ModelClient` makes it: through the SDK client's `post` with the body
encoded in `core.llm`, the very bytes and headers `messages.create(stream=True)` sends; with
the SDK's OpenTelemetry spans on, through `create` itself (the spans' attributes)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.resources.messages.messages import AsyncMessages
from opentelemetry import trace

from core.llm import ModelClient, TurnRequest, build_params, request_body
from tests.fakeapi import text_reply
from tests.test_llm import TOOLS, RecordingSink

MODEL = "claude-haiku-5-5"
# Headers that differ between any two requests (a fresh key per request).
PER_REQUEST = {"idempotency-key"}


def _request() -> TurnRequest:
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "Lis « README » ✓ and say what is in it."},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Read it first.", "signature": "sig-1"},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "README.md", "limit": 2.5, "flags": [True, None]},
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "# é"}],
        },
    ]
    return TurnRequest(
        model=MODEL,
        system="You are terse.",
        messages=history,
        tools=TOOLS,
        max_tokens=512,
        cache=True,
        thinking=True,
        tool_choice="none",
    )


class Recorder:
    """An in-process API that keeps every request (its body read before it is let go of)
    and answers each with a short text reply."""

    def __init__(self) -> None:
        self.requests: list[tuple[httpx2.Request, bytes]] = []
        frames = text_reply("ok").frames(MODEL)
        self.reply = b"".join(f for f in frames if isinstance(f, bytes))

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append((request, request.content))
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=self.reply
        )

    def client(self, **options: Any) -> anthropic.AsyncAnthropic:
        from core.http_client import make_http_client

        return anthropic.AsyncAnthropic(
            api_key="sk-body",
            base_url="http://api.invalid",
            max_retries=0,
            http_client=make_http_client(httpx2.MockTransport(self)),
            **options,
        )


def _headers(request: httpx2.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k not in PER_REQUEST}


async def test_the_request_is_what_create_sends_byte_for_byte() -> None:
    api = Recorder()
    sdk = api.client(open_telemetry=False)
    turn = _request()
    try:
        result = await ModelClient(sdk, retries=0).stream_turn(turn, RecordingSink())
        async with sdk.messages.with_streaming_response.create(
            stream=True, **build_params(turn)
        ) as response:
            await response.read()
    finally:
        await sdk.close()
    assert result.content == [{"type": "text", "text": "ok"}]
    (ours, ours_body), (sdk_request, sdk_body) = api.requests
    assert ours_body == sdk_body
    assert ours_body == request_body(build_params(turn))
    assert "« README » ✓".encode() in ours_body  # UTF-8 as is, not \\u escapes
    assert json.loads(ours_body)["stream"] is True
    assert (ours.method, ours.url) == (sdk_request.method, sdk_request.url)
    assert _headers(ours) == _headers(sdk_request)
    assert ours.headers["authorization"] == "Bearer sk-body"
    assert ours.headers["content-length"] == str(len(ours_body))


def test_the_body_refuses_what_create_refuses() -> None:
    params = build_params(_request())
    with pytest.raises(TypeError, match="temperature"):
        request_body({**params, "temperature": 0.5})
    bad = {**params, "messages": [{"role": "user", "content": [{"type": "x", "n": float("inf")}]}]}
    with pytest.raises(ValueError):  # JSON has no inf, as the SDK's encoder says
        request_body(bad)


async def test_with_spans_on_the_request_goes_through_create(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[dict[str, Any]] = []
    original = AsyncMessages.create

    async def create(self: AsyncMessages, **params: Any) -> Any:
        created.append(params)
        return await original(self, **params)

    monkeypatch.setattr(AsyncMessages, "create", create)
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    api = Recorder()
    for spans in (None, False):  # None: the SDK's default, on with a provider
        sdk = api.client(open_telemetry=spans)
        try:
            await ModelClient(sdk, retries=0).stream_turn(_request(), RecordingSink())
        finally:
            await sdk.close()
    assert len(created) == 1 and created[0]["stream"] is True
    (traced, traced_body), (plain, plain_body) = api.requests
    assert traced_body == plain_body
    assert _headers(traced) == _headers(plain)
