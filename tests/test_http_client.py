"""The SDK's HTTP client frees each request body once answered, and keeps it for redirects."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import anthropic
import httpx2

from core.http_client import release_request_body
from core.llm import make_client
from core.simulator import Simulator, SimulatorTransport
from core.simulator.http import Response
from tests.fakeapi import FakeAPI, RecordedRequest, text_reply

PARAMS = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Say something long enough to notice. " * 50}],
}


async def _body_refs_while_streaming(client: anthropic.AsyncAnthropic) -> tuple[int, str]:
    """References to the sent body left while the reply streams (besides this test's), and
    the reply's text."""
    sent: list[bytes] = []

    async def keep_body(request: httpx2.Request) -> None:
        if not sent:  # a redirect's request shares the first one's body
            sent.append(request.content)

    client._client.event_hooks["request"].append(keep_body)
    async with client.messages.stream(**PARAMS) as stream:  # type: ignore[arg-type]
        assert stream.response.request.content == b""
        # `sent` and getrefcount's own argument: nothing of httpx's or httpcore's.
        refs = sys.getrefcount(sent[0]) - 2
        text = await stream.get_final_text()
    assert json.loads(sent[0])["messages"] == PARAMS["messages"]
    return refs, text


async def test_network_path_drops_the_body_once_the_reply_streams(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(text_reply("Hello there"))
    refs, text = await _body_refs_while_streaming(client)
    assert text == "Hello there"
    assert refs == 0
    # The server got the whole body all the same.
    assert fake_api.requests[0].body["messages"] == PARAMS["messages"]


async def test_simulator_path_drops_the_body_once_the_reply_streams() -> None:
    client = make_client(
        "simulator", "http://simulator.invalid", transport=SimulatorTransport(Simulator())
    )
    try:
        refs, text = await _body_refs_while_streaming(client)
    finally:
        await client.close()
    assert text
    assert refs == 0


@dataclass
class RedirectOnce:
    """Answers 307 to the same URL, as a gateway in front of the API might."""

    location: str

    def render(self, request: RecordedRequest) -> Response:
        return Response(307, {"location": self.location, "content-length": "0"}, b"")


async def test_a_redirect_resends_the_whole_body(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(RedirectOnce(f"{fake_api.base_url}/v1/messages"), text_reply("After redirect"))
    refs, text = await _body_refs_while_streaming(client)
    assert text == "After redirect"
    assert refs == 0  # freed once the final answer came
    first, second = fake_api.requests
    assert first.raw == second.raw
    assert json.loads(second.raw)["messages"] == PARAMS["messages"]


async def test_hook_keeps_a_redirected_body_and_drops_an_answered_one() -> None:
    def sent() -> httpx2.Request:
        return httpx2.Request("POST", "http://api.invalid/v1/messages", content=b'{"a": 1}')

    redirected = sent()
    location = {"location": "http://api.invalid/v2/messages"}
    await release_request_body(httpx2.Response(307, headers=location, request=redirected))
    assert redirected.content == b'{"a": 1}'
    assert b"".join(list(redirected.stream)) == b'{"a": 1}'  # type: ignore[arg-type]

    answered = sent()
    await release_request_body(httpx2.Response(200, request=answered))
    assert answered.content == b""
    assert b"".join(list(answered.stream)) == b""  # type: ignore[arg-type]
