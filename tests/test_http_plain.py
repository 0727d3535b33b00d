"""An `http://` endpoint gets a client without an SSL context; `https://` is untouched."""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest

from core.http_client import NetworkTransport, PlainHTTPTransport, uses_plain_http
from core.llm import make_client
from tests.fakeapi import DEFAULT_KEY, FakeAPI, text_reply


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every SSLContext made from here on (httpx2's and httpcore2's are ssl.SSLContext)."""
    made: list[ssl.SSLContext] = []
    original = ssl.SSLContext.__new__

    def new(cls: type[ssl.SSLContext], *args: Any, **kwargs: Any) -> ssl.SSLContext:
        ctx = original(cls, *args, **kwargs)
        made.append(ctx)
        return ctx

    monkeypatch.setattr(ssl.SSLContext, "__new__", new)
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return made


async def test_http_endpoint_builds_no_ssl_context_and_works(
    fake_api: FakeAPI, contexts: list[ssl.SSLContext]
) -> None:
    client = make_client(DEFAULT_KEY, fake_api.base_url, max_retries=0)
    try:
        assert isinstance(client._client._transport, PlainHTTPTransport)
        fake_api.push(text_reply("over plain http"))
        reply = await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
        )
        assert reply.content[0].text == "over plain http"  # type: ignore[union-attr]
        # The SDK's own headers and auth went through the same client.
        assert fake_api.requests[0].api_key == DEFAULT_KEY
    finally:
        await client.close()
    assert contexts == []


async def test_the_base_url_from_the_environment_counts_too(
    fake_api: FakeAPI, contexts: list[ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    client = make_client("sk-test", None)
    try:
        assert isinstance(client._client._transport, PlainHTTPTransport)
    finally:
        await client.close()
    assert contexts == []


async def test_https_gets_the_sdks_verifying_context(
    contexts: list[ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    for base_url in ("https://api.anthropic.com", None):
        monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
        contexts.clear()
        client = make_client("sk-test", base_url)
        try:
            transport = client._client._transport
            assert type(transport) is NetworkTransport  # on core.net_backend
            assert contexts  # the SDK's verifying context, built as before
            ctx = contexts[0]
            assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
        finally:
            await client.close()


async def test_an_https_proxy_in_the_environment_keeps_the_sdk_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    client = make_client("sk-test", "https://api.anthropic.com")
    try:
        assert type(client._client._transport) is httpx2.AsyncHTTPTransport
        assert client._client._mounts  # the SDK's proxy mounts
    finally:
        await client.close()


def test_a_proxy_in_the_environment_keeps_the_sdk_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert uses_plain_http("http://127.0.0.1:8765")
    assert not uses_plain_http("https://127.0.0.1:8765")
    assert not uses_plain_http(None)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert not uses_plain_http("http://127.0.0.1:8765")  # the SDK sets up the proxy
