"""Model calls: stream one assistant turn through the anthropic SDK, with turn-level retries.

This is the only module that calls the SDK. The SDK retries HTTP errors before a
stream starts; failures after it started (an SSE `error` event, a dropped socket, a
read timeout, a stream cut before `message_stop`, a malformed event) it does not, so
`ModelClient` retries the whole turn with full-jitter backoff on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anthropic
import httpx2
from anthropic._constants import RAW_RESPONSE_HEADER
from anthropic._response import AsyncResponseContextManager
from anthropic.resources.messages.messages import DEPRECATED_MODELS
from anthropic.types import Message, RawMessageStreamEvent

from core import redact
from core.catalog import Usage
from core.http_client import make_http_client
from core.llm_stream import (
    TEXT_DELTA,
    THINKING_DELTA,
    TOOL_INPUT,
    TOOL_START,
    USAGE,
    ReplyAccumulator,
    SSEFrames,
)
from core.request_pacer import RequestPacer

__all__ = [
    "MissingKeyError",
    "ModelClient",
    "TurnError",
    "TurnRequest",
    "TurnResult",
    "TurnSink",
    "is_key_refused",
    "make_client",
]

CACHE_CONTROL: dict[str, str] = {"type": "ephemeral"}
THINKING: dict[str, str] = {"type": "adaptive", "display": "summarized"}
# Error types that no later try can fix, when they come as an SSE `error` event.
PERMANENT_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "billing_error",
    }
)
RETRYABLE_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER_S = 600.0
_UNCACHEABLE_BLOCKS = frozenset({"thinking", "redacted_thinking"})
# The body `messages.create` sends: its keys in its order, its encoder's settings.
_BODY_KEYS = ("max_tokens", "messages", "model", "cache_control", "container", "diagnostics",
              "inference_geo", "metadata", "output_config", "service_tier", "speed",
              "stop_sequences", "stream", "system", "thinking", "tool_choice", "tools")  # fmt: skip
_BODY_KEY_SET = frozenset(_BODY_KEYS) - {"stream"}
_BODY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class MissingKeyError(Exception):
    """No API key was given; the caller should use the simulator or ask for a key."""


def make_client(
    api_key: str | None,
    base_url: str | None,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    max_retries: int = 2,
    timeout_s: float = 600.0,
    streams: int | None = None,
) -> anthropic.AsyncAnthropic:
    """An SDK client for `api_key`, or `MissingKeyError` before any call when there is none.

    The key is always passed explicitly, so the SDK never falls back to profiles or
    other credentials from the environment. `base_url=None` means the SDK default
    (it also reads `ANTHROPIC_BASE_URL`). `streams`: how many turns may stream at once
    (its connection pool holds that many; None: the SDK's 1000).
    """
    if api_key is None or not api_key.strip():
        raise MissingKeyError("no Anthropic API key: set ANTHROPIC_API_KEY, or run with --simulate")
    return anthropic.AsyncAnthropic(
        api_key=api_key.strip(),
        base_url=base_url or None,
        max_retries=max_retries,
        open_telemetry=telemetry_option(),
        timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        # The SDK reads ANTHROPIC_BASE_URL itself when base_url is None; so does this.
        http_client=make_http_client(
            transport, base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL"), streams=streams
        ),
    )


def telemetry_option() -> Literal[False] | None:
    """The SDK's OpenTelemetry spans: on (its default) when the process has a tracer
    provider, off otherwise.

    Without a provider the spans record nothing, yet the SDK still builds each request's
    span and its attributes: about 8% of the event loop at 1000 streaming agents. A
    provider set before delegate starts (`opentelemetry-instrument delegate ...`, or
    `OTEL_PYTHON_TRACER_PROVIDER`) gets every call's span as before.
    """
    from opentelemetry import trace  # the SDK imports it already

    if os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"):
        return None
    provider = trace.get_tracer_provider()
    return False if isinstance(provider, trace.ProxyTracerProvider) else None


@dataclass(frozen=True)
class TurnRequest:
    model: str
    system: str
    messages: list[dict[str, Any]]  # API message params; content may be str or list of blocks
    tools: list[dict[str, Any]]  # [{"name", "description", "input_schema"}]
    max_tokens: int
    cache: bool = False  # cache breakpoints: system prompt, previous turn's end, last message
    thinking: bool = False  # adaptive thinking with summarized display
    tool_choice: str | None = None  # "none": tools are offered but may not be called


class TurnSink(Protocol):
    """Callbacks as the turn streams; all sync and cheap."""

    def on_text(self, text: str) -> None: ...
    def on_thinking(self, text: str) -> None: ...
    def on_tool_use(self, tool_use_id: str, name: str) -> None: ...
    def on_tool_input(self, partial_json: str) -> None: ...
    def on_usage(self, usage: Usage) -> None: ...
    def on_retry(self, try_number: int, delay_s: float, reason: str) -> None: ...


@dataclass(frozen=True)
class TurnResult:
    content: list[dict[str, Any]]  # the reply's content blocks as API params, as received
    stop_reason: str
    usage: Usage  # of the successful try


class TurnError(Exception):
    """The turn failed for good; `reason` is one readable line."""

    def __init__(
        self, reason: str, *, status: int | None, error_type: str | None, retryable: bool
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.error_type = error_type
        self.retryable = retryable


@dataclass(frozen=True)
class _Failure:
    """One failed try, classified."""

    reason: str
    status: int | None = None
    error_type: str | None = None
    retryable: bool = True
    retry_after_s: float | None = None


class _TryFailed(Exception):
    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class ModelClient:
    """Streams turns; retries a failed try up to `retries` times (so `retries + 1` tries)."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        *,
        retries: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.retries = max(0, retries)
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.rng = rng or random.Random()
        # Set by the first 401: the key is bad for every agent, so later turns fail at
        # once without a request (no retry storm); `on_key_refused` hears of it once.
        self.key_refused: TurnError | None = None
        self.on_key_refused: Callable[[TurnError], None] | None = None
        self.pacer = RequestPacer()

    async def stream_turn(self, request: TurnRequest, sink: TurnSink) -> TurnResult:
        if (refused := self.key_refused) is not None:
            raise TurnError(
                refused.reason,
                status=refused.status,
                error_type=refused.error_type,
                retryable=False,
            )
        params = build_params(request)
        tries = self.retries + 1
        for try_index in range(tries):
            try:
                return await self._one_try(params, sink)
            except _TryFailed as failed:
                failure = failed.failure
            reason = self._scrub(failure.reason)
            if not failure.retryable:
                error = TurnError(
                    reason, status=failure.status, error_type=failure.error_type, retryable=False
                )
                if is_key_refused(error):
                    self._refuse_key(error)
                raise error
            if try_index + 1 >= tries:
                raise TurnError(
                    f"model call failed, gave up after {tries} tries: {reason}",
                    status=failure.status,
                    error_type=failure.error_type,
                    retryable=True,
                )
            delay = self._delay(try_index, failure.retry_after_s)
            sink.on_retry(try_index + 1, delay, reason)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _refuse_key(self, error: TurnError) -> None:
        if self.key_refused is not None:
            return
        self.key_refused = error
        if self.on_key_refused is not None:
            self.on_key_refused(error)

    def _delay(self, try_index: int, retry_after_s: float | None) -> float:
        """Full jitter: uniform(0, min(max, base * 2**n)); at least what retry-after asks.

        Retry-after gets jitter too (up to half of it, within the same cap), so agents
        told "wait 2 s" at the same moment do not all come back at the same moment.
        """
        cap = max(0.0, min(self.max_delay_s, self.base_delay_s * 2**try_index))
        delay = self.rng.uniform(0.0, cap)
        if retry_after_s is not None:
            asked = min(retry_after_s, MAX_RETRY_AFTER_S)
            delay = max(delay, asked + self.rng.uniform(0.0, min(cap, asked / 2)))
        return delay

    def _scrub(self, text: str) -> str:
        key = self.client.api_key
        if key:
            text = text.replace(key, "***")
        return redact.current().redact(text)

    async def _one_try(self, params: dict[str, Any], sink: TurnSink) -> TurnResult:
        """One streamed request. SDK and network failures come out as `_TryFailed`;
        errors raised by the sink itself propagate unchanged.

        The request goes through the SDK's client (`with_streaming_response`: its auth,
        headers, retries before the stream starts and status errors); the body is read
        here (`core/llm_stream.py`), without the SDK's objects per event.
        """
        model = params["model"]
        try:
            async with self.pacer.slot():  # many at once: spread over loop iterations
                # Made in the slot: a turn cancelled while it waits leaves no request
                # coroutine behind that was never awaited.
                manager = self._request(params)
                response = (await manager.__aenter__()).http_response
        except Exception as exc:
            raise _TryFailed(classify(exc, model)) from exc
        reply = ReplyAccumulator()
        frames = SSEFrames()
        chunks = response.aiter_bytes()
        event = reply.event
        loads = json.loads
        try:
            ended = False
            while not ended:
                try:
                    datas = frames.feed(await anext(chunks))
                except StopAsyncIteration:
                    datas, ended = frames.end(), True
                except Exception as exc:
                    raise _TryFailed(classify(exc, model)) from exc
                for data in datas:
                    try:
                        what, value = event(loads(data))
                    except Exception as exc:
                        raise _TryFailed(_malformed(exc)) from exc
                    if what == TEXT_DELTA:
                        if value:
                            sink.on_text(value)
                    elif what == USAGE:
                        sink.on_usage(value)
                    elif what == TOOL_INPUT:
                        if value:
                            sink.on_tool_input(value)
                    elif what == THINKING_DELTA:
                        if value:
                            sink.on_thinking(value)
                    elif what == TOOL_START:
                        sink.on_tool_use(*value)
                if frames.error is not None:
                    error = self._error_event(frames.error, response)
                    raise _TryFailed(classify(error, model)) from error
            if not reply.started or not reply.stopped:
                raise _TryFailed(_Failure("the stream ended early (no message_stop)"))
            if reply.stop_reason is None:
                raise _TryFailed(_Failure("the stream ended early (no stop_reason)"))
            try:
                content = reply.content()
            except Exception as exc:
                raise _TryFailed(_malformed(exc)) from exc
            return TurnResult(content=content, stop_reason=reply.stop_reason, usage=reply.usage)
        finally:
            # Closes the response also on cancellation, so the socket is not left open.
            with contextlib.suppress(Exception):
                await chunks.aclose()
            with contextlib.suppress(Exception):
                await manager.__aexit__(None, None, None)

    def _request(self, params: dict[str, Any]) -> AsyncResponseContextManager[Any]:
        """The streamed request, not yet made: `messages.create(stream=True, **params)`
        through `with_streaming_response`, or, when the client makes no OpenTelemetry
        spans, the same request through the client's `post` with the body encoded here.

        `create` sends `params` as they are, with no validation; on the way, the client
        copies the whole body into plain data (`copy_tree`) and encodes it: with the
        tool schemas and the conversation, a third of a request start's CPU. The body
        sent here is the same bytes (`request_body`), and everything else is the
        client's own: auth, headers, HTTP retries, status errors and timeouts. With
        spans on, `create` is kept, as the span's request attributes come from it.
        """
        client = self.client
        if client.open_telemetry["traces"]["enabled"]:
            return client.messages.with_streaming_response.create(stream=True, **params)
        model = params["model"]
        if model in DEPRECATED_MODELS:  # as `create` warns
            warnings.warn(
                f"The model '{model}' is deprecated and will reach end-of-life on "
                f"{DEPRECATED_MODELS[model]}.\nPlease migrate to a newer model. Visit "
                "https://docs.anthropic.com/en/docs/resources/model-deprecations for more "
                "information.",
                DeprecationWarning,
                stacklevel=3,
            )
        return AsyncResponseContextManager(
            client.post(
                "/v1/messages",
                cast_to=Message,
                content=request_body(params),
                options={"headers": {RAW_RESPONSE_HEADER: "stream"}},
                stream=True,
                stream_cls=anthropic.AsyncStream[RawMessageStreamEvent],
            )
        )

    def _error_event(self, text: str, response: httpx2.Response) -> anthropic.APIStatusError:
        """The SDK's error for an `event: error` frame, made as its own stream makes it."""
        body: object = text
        try:
            body = json.loads(text)
            message = f"{body}"
        except Exception:
            message = text or f"Error code: {response.status_code}"
        return self.client._make_status_error(message, body=body, response=response)


def _malformed(exc: BaseException) -> _Failure:
    """A frame that is not JSON, or events that do not make a reply."""
    return _Failure(f"the stream was malformed ({type(exc).__name__}: {_one_line(str(exc))[:200]})")


def is_key_refused(error: TurnError) -> bool:
    """A 401: the API key itself was refused, so no agent of the run can go on."""
    return error.status == 401 or error.error_type == "authentication_error"


def build_params(request: TurnRequest) -> dict[str, Any]:
    """The `messages.create` keyword arguments for a request; never mutates the request.

    With `cache`, at most three of the API's four cache breakpoints are used (see
    `cache_marks`): the system prompt (or, without one, the last tool), which caches the
    tools and the system prompt that every turn shares; the end of the previous turn's
    prompt, which this turn reads back whatever the reply added in between; and the end
    of the conversation, which the next turn will read.
    """
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": list(request.messages),
    }
    if request.system:
        if request.cache:
            params["system"] = [
                {"type": "text", "text": request.system, "cache_control": dict(CACHE_CONTROL)}
            ]
        else:
            params["system"] = request.system
    if request.tools:
        tools = list(request.tools)
        if request.cache and not request.system:
            tools[-1] = {**tools[-1], "cache_control": dict(CACHE_CONTROL)}
        params["tools"] = tools
    if request.cache:
        for index in cache_marks(request.messages):
            params["messages"][index] = _with_cache_mark(request.messages[index])
    if request.thinking:
        params["thinking"] = dict(THINKING)
    if request.tool_choice and request.tools:
        params["tool_choice"] = {"type": request.tool_choice}
    return params


def request_body(params: dict[str, Any]) -> bytes:
    """The JSON body `messages.create(stream=True, **params)` sends, byte for byte: its
    keys in its order, UTF-8, no spaces, no NaN (a ValueError, as the SDK raises)."""
    unknown = params.keys() - _BODY_KEY_SET
    if unknown:  # as `create` refuses a keyword it does not take
        raise TypeError(f"not a messages.create parameter: {', '.join(sorted(unknown))}")
    body = {key: params[key] for key in _BODY_KEYS if key in params}
    body["stream"] = True
    return _BODY_ENCODER.encode({key: body[key] for key in _BODY_KEYS if key in body}).encode()


def cache_marks(messages: list[dict[str, Any]]) -> list[int]:
    """Indexes of the messages whose last cacheable block gets a breakpoint.

    The last message (the prefix the next turn reads), and the user message that ended
    the previous turn's prompt: the one before the last assistant reply. The API looks
    for a cached prefix only about 20 blocks before a breakpoint, so a reply with many
    parallel tool calls (a tool_use and a tool_result block each) would otherwise miss
    the previous turn's prefix; a breakpoint exactly there always reads it.
    """
    if not messages:
        return []
    marks = [len(messages) - 1]
    if (
        len(messages) >= 3
        and messages[-2].get("role") == "assistant"
        and messages[-3].get("role") == "user"
    ):
        marks.append(len(messages) - 3)
    return marks


def _with_cache_mark(message: dict[str, Any]) -> dict[str, Any]:
    """A copy of `message` whose last cacheable content block carries cache_control."""
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return message
        blocks: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        blocks = list(content)
    else:
        return message
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if isinstance(block, dict) and block.get("type") not in _UNCACHEABLE_BLOCKS:
            blocks[i] = {**block, "cache_control": dict(CACHE_CONTROL)}
            return {**message, "content": blocks}
    return message


def classify(exc: BaseException, model: str) -> _Failure:
    """What a failed try means: a readable reason, and whether another try may succeed."""
    if isinstance(exc, anthropic.APIStatusError):
        return _status_failure(exc, model)
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return _Failure("the API did not answer in time (timeout)")
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__
        detail = f": {_one_line(str(cause))}" if cause is not None and str(cause) else ""
        return _Failure(f"could not reach the API (connection error{detail})")
    if isinstance(exc, httpx2.TransportError):
        return _Failure(
            f"the connection dropped mid-reply ({type(exc).__name__}: "
            f"{_one_line(str(exc)) or 'no detail'})"
        )
    if isinstance(exc, ValueError | RuntimeError | IndexError | KeyError):
        # A `data:` line that is not JSON (JSONDecodeError), tool input that does not
        # parse, or events out of order: a garbled stream.
        return _Failure(
            f"the stream was malformed ({type(exc).__name__}: {_one_line(str(exc))[:200]})"
        )
    return _Failure(
        f"unexpected error from the API client ({type(exc).__name__}: {_one_line(str(exc))[:200]})",
        retryable=False,
    )


def _status_failure(exc: anthropic.APIStatusError, model: str) -> _Failure:
    status = exc.status_code
    error_type = exc.type if isinstance(exc.type, str) else None
    message = _api_message(exc)
    label = f"{status} {error_type}" if error_type else str(status)
    retry_after = _retry_after(exc.response.headers)
    if status == 200:
        # An `event: error` inside a stream that had started.
        what = {
            "overloaded_error": "API overloaded mid-reply",
            "rate_limit_error": "rate limited mid-reply",
            "api_error": "API error mid-reply",
            "timeout_error": "API timed out mid-reply",
        }.get(error_type or "", "the stream reported an error")
        return _Failure(
            f"{what} ({error_type or 'unknown error'}): {message}",
            status=None,
            error_type=error_type,
            retryable=error_type not in PERMANENT_TYPES,
            retry_after_s=retry_after,
        )
    if status == 401:
        reason = f"the API key was refused ({label}): {message}"
    elif status == 403:
        reason = f"permission denied ({label}): {message}"
    elif status == 404:
        reason = f"model '{model}' not found ({label}): {message}"
    elif status == 413:
        reason = f"the request is too large ({label}): {message}"
    elif status == 429:
        reason = f"rate limited ({label}): {message}"
    elif status == 529 or error_type == "overloaded_error":
        reason = f"API overloaded ({label}): {message}"
    elif status >= 500:
        reason = f"API server error ({label}): {message}"
    else:
        reason = f"the API refused the request ({label}): {message}"
    retryable = status in RETRYABLE_STATUS or status >= 500
    should_retry = exc.response.headers.get("x-should-retry")
    if should_retry in ("true", "false"):  # the server's word wins, as in the SDK
        retryable = should_retry == "true"
    return _Failure(
        reason,
        status=status,
        error_type=error_type,
        retryable=retryable,
        retry_after_s=retry_after if retryable else None,
    )


def _api_message(exc: anthropic.APIStatusError) -> str:
    message = exc.api_message if isinstance(exc.api_message, str) else None
    if not message:
        body = exc.body
        message = body if isinstance(body, str) and body else exc.message
    return _one_line(message)[:300] or "no message"


def _retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds asked by `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed) - time.time()))


def _one_line(text: str) -> str:
    return " ".join(text.split())
