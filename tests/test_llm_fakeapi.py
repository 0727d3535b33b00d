"""The fake Messages API itself: auth headers, plain JSON replies, routes, request-based scripts."""

from __future__ import annotations

import httpx2

from tests.fakeapi import (
    DEFAULT_KEY,
    FakeAPI,
    RecordedRequest,
    Reply,
    http_error,
    text_reply,
    tool_use_reply,
)


async def post(api: FakeAPI, path: str, body: dict[str, object], **headers: str) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=api.base_url) as http:
        return await http.post(path, json=body, headers=headers)


async def test_accepts_x_api_key_and_bearer_and_refuses_others(fake_api: FakeAPI) -> None:
    fake_api.push(text_reply("a"), text_reply("b"))
    body = {"model": "m", "max_tokens": 5, "messages": []}
    ok1 = await post(fake_api, "/v1/messages", body, **{"x-api-key": DEFAULT_KEY})
    ok2 = await post(fake_api, "/v1/messages", body, authorization=f"Bearer {DEFAULT_KEY}")
    bad = await post(fake_api, "/v1/messages", body, authorization="Bearer nope")
    assert (ok1.status_code, ok2.status_code) == (200, 200)
    assert bad.status_code == 401
    assert bad.json()["error"]["type"] == "authentication_error"
    assert fake_api.pending == 0


async def test_plain_reply_without_stream_is_json(fake_api: FakeAPI) -> None:
    fake_api.push(tool_use_reply([("read_file", {"path": "x"})], text="Reading."))
    resp = await post(
        fake_api,
        "/v1/messages",
        {"model": "claude-haiku-5-5", "max_tokens": 5, "messages": []},
        **{"x-api-key": DEFAULT_KEY},
    )
    message = resp.json()
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["request-id"].startswith("req_")
    assert message["model"] == "claude-haiku-5-5"
    assert message["stop_reason"] == "tool_use"
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    assert message["content"][1]["input"] == {"path": "x"}


async def test_streamed_reply_is_sse(fake_api: FakeAPI) -> None:
    fake_api.push(text_reply("hi there", pieces=2))
    resp = await post(
        fake_api,
        "/v1/messages",
        {"model": "m", "max_tokens": 5, "messages": [], "stream": True},
        **{"x-api-key": DEFAULT_KEY},
    )
    assert resp.headers["content-type"].startswith("text/event-stream")
    names = [line[7:] for line in resp.text.splitlines() if line.startswith("event: ")]
    assert names[0] == "message_start" and names[1] == "ping"
    assert names.count("content_block_delta") == 2
    assert names[-2:] == ["message_delta", "message_stop"]
    assert resp.text.endswith("\n\n")


async def test_routes_errors_and_request_based_scripts(fake_api: FakeAPI) -> None:
    def echo(req: RecordedRequest) -> Reply:
        return text_reply(f"you sent {len(req.messages)} messages")

    fake_api.push(http_error(529, "overloaded_error", "Overloaded", {"retry-after": "2"}), echo)
    key = {"x-api-key": DEFAULT_KEY}
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    err = await post(fake_api, "/v1/messages", body, **key)
    assert err.status_code == 529
    assert err.headers["retry-after"] == "2"
    assert err.json()["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    echoed = await post(fake_api, "/v1/messages", body, **key)
    assert echoed.json()["content"][0]["text"] == "you sent 1 messages"
    empty = await post(fake_api, "/v1/messages", body, **key)
    assert empty.status_code == 400
    assert "no scripted reply left" in empty.json()["error"]["message"]
    count = await post(fake_api, "/v1/messages/count_tokens", body, **key)
    assert count.json()["input_tokens"] > 0
    missing = await post(fake_api, "/v1/nope", body, **key)
    assert missing.status_code == 404
    await fake_api.wait_for_requests(5, timeout_s=1)
    assert [r.path for r in fake_api.requests][-2:] == ["/v1/messages/count_tokens", "/v1/nope"]
