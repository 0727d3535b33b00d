"""ModelClient failure handling over the real SDK: retries, permanent errors, cancellation."""

from __future__ import annotations

import asyncio
import random

import anthropic
import pytest

from core.catalog import Usage
from core.llm import ModelClient, TurnError, make_client
from tests.fakeapi import (
    DEFAULT_KEY,
    FakeAPI,
    Reply,
    drop_mid_stream,
    error_mid_stream,
    http_error,
    malformed_data,
    stalled,
    text_reply,
    without_message_stop,
)
from tests.test_llm import RecordingSink, request


def fast(client: anthropic.AsyncAnthropic, retries: int = 3) -> ModelClient:
    return ModelClient(client, retries=retries, base_delay_s=0.01, max_delay_s=0.05)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (error_mid_stream(error_type="overloaded_error"), "overloaded"),
        (error_mid_stream(error_type="api_error", text="Internal server error"), "API error"),
        (drop_mid_stream(), "connection dropped"),
        (without_message_stop(), "ended early"),
        (malformed_data(), "malformed"),
    ],
    ids=["sse-overloaded", "sse-api-error", "dropped", "no-message-stop", "malformed-data"],
)
async def test_mid_stream_failure_is_retried_and_succeeds(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic, fault: Reply, words: str
) -> None:
    fake_api.push(fault, text_reply("second try", input_tokens=9, output_tokens=4))
    sink = RecordingSink()

    result = await fast(client).stream_turn(request(), sink)

    assert result.content == [{"type": "text", "text": "second try"}]
    assert result.usage == Usage(input_tokens=9, output_tokens=4)
    assert len(fake_api.requests) == 2
    assert len(sink.retries) == 1
    try_number, delay, reason = sink.retries[0]
    assert try_number == 1
    assert 0 <= delay <= 0.01
    assert words in reason
    # Usage of the failed try was reported before the retry (it was billed).
    assert sink.usages[0] == Usage(input_tokens=25, output_tokens=1)


async def test_read_timeout_mid_stream_is_retried(fake_api: FakeAPI) -> None:
    stall_reply, _ = stalled(after=3)
    fake_api.push(stall_reply, text_reply("after timeout"))
    sdk = make_client(DEFAULT_KEY, fake_api.base_url, max_retries=0, timeout_s=0.5)
    sink = RecordingSink()
    try:
        result = await fast(sdk).stream_turn(request(), sink)
    finally:
        await sdk.close()
    assert result.content == [{"type": "text", "text": "after timeout"}]
    assert "timeout" in sink.retries[0][2]


async def test_429_is_retried_after_sdk_gives_up(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(
        http_error(429, "rate_limit_error", "Number of requests exceeded", {"retry-after": "0"}),
        text_reply("ok"),
    )
    sink = RecordingSink()

    result = await fast(client).stream_turn(request(), sink)

    assert result.stop_reason == "end_turn"
    assert len(fake_api.requests) == 2
    assert "rate limited (429 rate_limit_error)" in sink.retries[0][2]


async def test_sdk_retries_first_then_the_turn(fake_api: FakeAPI) -> None:
    """With the SDK's own retries on, a 529 is retried by the SDK before the turn layer."""
    overloaded = http_error(529, "overloaded_error", "Overloaded", {"retry-after-ms": "1"})
    fake_api.push(overloaded, overloaded, text_reply("ok"))
    sdk = make_client(DEFAULT_KEY, fake_api.base_url, max_retries=1)
    sink = RecordingSink()
    try:
        result = await fast(sdk).stream_turn(request(), sink)
    finally:
        await sdk.close()
    assert result.stop_reason == "end_turn"
    assert len(fake_api.requests) == 3
    assert len(sink.retries) == 1  # one turn retry; the SDK did the other
    assert "API overloaded (529 overloaded_error): Overloaded" in sink.retries[0][2]


async def test_retry_after_is_honoured(fake_api: FakeAPI, client: anthropic.AsyncAnthropic) -> None:
    fake_api.push(
        http_error(429, "rate_limit_error", "slow down", {"retry-after": "1"}),
        text_reply("ok"),
    )
    sink = RecordingSink()

    await fast(client).stream_turn(request(), sink)

    first, second = fake_api.requests
    assert second.at - first.at >= 0.9
    assert 1.0 <= sink.retries[0][1] <= 1.01  # retry-after plus jitter within the cap


async def test_retries_exhausted_raise_a_readable_turn_error(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(*[error_mid_stream(error_type="overloaded_error") for _ in range(3)])
    sink = RecordingSink()

    with pytest.raises(TurnError) as caught:
        await fast(client, retries=2).stream_turn(request(), sink)

    err = caught.value
    assert err.retryable is True
    assert err.error_type == "overloaded_error"
    assert err.reason.startswith("model call failed, gave up after 3 tries: ")
    assert "API overloaded mid-reply (overloaded_error): Overloaded" in err.reason
    assert "\n" not in err.reason
    assert str(err) == err.reason
    assert len(fake_api.requests) == 3
    assert [r[0] for r in sink.retries] == [1, 2]
    assert fake_api.pending == 0


async def test_401_says_the_key_was_refused_and_does_not_retry(fake_api: FakeAPI) -> None:
    wrong_key = "sk-ant-wrong-secret-value"
    sdk = make_client(wrong_key, fake_api.base_url, max_retries=2)
    sink = RecordingSink()
    try:
        with pytest.raises(TurnError) as caught:
            await fast(sdk).stream_turn(request(), sink)
    finally:
        await sdk.close()
    err = caught.value
    assert "API key was refused" in err.reason
    assert "401" in err.reason
    assert wrong_key not in err.reason
    assert wrong_key not in repr(err.args)
    # Not chained to the SDK error, whose request carries the key in its headers.
    assert err.__cause__ is None and err.__context__ is None
    assert (err.status, err.error_type, err.retryable) == (401, "authentication_error", False)
    assert len(fake_api.requests) == 1
    assert sink.retries == []


async def test_404_unknown_model_carries_the_api_message(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(http_error(404, "not_found_error", "model: claude-nope-9"))

    with pytest.raises(TurnError) as caught:
        await fast(client).stream_turn(request(model="claude-nope-9"), RecordingSink())

    err = caught.value
    assert (
        err.reason == "model 'claude-nope-9' not found (404 not_found_error): model: claude-nope-9"
    )
    assert (err.status, err.retryable) == (404, False)
    assert len(fake_api.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (400, "invalid_request_error", "the API refused the request (400 invalid_request_error)"),
        (403, "permission_error", "permission denied (403 permission_error)"),
        (413, "request_too_large", "the request is too large (413 request_too_large)"),
        (422, "invalid_request_error", "the API refused the request (422 invalid_request_error)"),
    ],
)
async def test_permanent_http_errors_fail_at_once(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic, status: int, error_type: str, words: str
) -> None:
    fake_api.push(http_error(status, error_type, "details from the API"))

    with pytest.raises(TurnError) as caught:
        await fast(client).stream_turn(request(), RecordingSink())

    assert caught.value.reason == f"{words}: details from the API"
    assert caught.value.retryable is False
    assert len(fake_api.requests) == 1


async def test_permanent_error_event_mid_stream_is_not_retried(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    fake_api.push(error_mid_stream(error_type="invalid_request_error", text="bad block"))

    with pytest.raises(TurnError) as caught:
        await fast(client).stream_turn(request(), RecordingSink())

    assert caught.value.retryable is False
    assert "bad block" in caught.value.reason
    assert len(fake_api.requests) == 1


async def test_cancellation_during_a_stalled_stream_propagates(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    stall_reply, stall = stalled(after=4)
    fake_api.push(stall_reply)
    sink = RecordingSink()
    task = asyncio.create_task(fast(client).stream_turn(request(), sink))
    await asyncio.wait_for(stall.reached.wait(), 5)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert sink.retries == []
    assert len(fake_api.requests) == 1


def test_backoff_is_full_jitter_capped() -> None:
    client = make_client(DEFAULT_KEY, "http://127.0.0.1:9")
    model = ModelClient(client, base_delay_s=1.0, max_delay_s=5.0, rng=random.Random(7))
    delays = [[model._delay(n, None) for _ in range(200)] for n in range(5)]
    for n, ds in enumerate(delays):
        assert all(0 <= d <= min(5.0, 2**n) for d in ds)
        assert max(ds) > 0.8 * min(5.0, 2**n)  # spreads over the whole range
    # Retry-after wins when larger, with jitter on top (up to the cap, at most half of it).
    assert all(3.0 <= model._delay(0, 3.0) <= 4.0 for _ in range(50))
    assert max(model._delay(0, 3.0) for _ in range(50)) > 3.5
    assert model._delay(0, 0.0) <= 1.0
