"""A scripted Messages-API server on loopback, for driving the real anthropic SDK in tests.

Push replies onto `FakeAPI`; each `POST /v1/messages` takes the next one. Replies
stream SSE exactly as the API does (ANTHROPIC_NOTES.md "Wire format"), or inject a
fault: an HTTP error, an `event: error` mid-stream, a dropped socket, a missing
`message_stop`, a malformed `data:` line, a stall. Every request is recorded
(headers + parsed JSON body) so tests can assert on what the client sent.

    async with FakeAPI() as api:
        api.push(text_reply("Hello"), http_error(429, "rate_limit_error", "slow down"))
        client = anthropic.AsyncAnthropic(api_key=api.api_key, base_url=api.base_url)
        ...
        assert api.requests[0].body["model"] == "claude-haiku-5-5"

Building blocks, for a fault matrix:
- `Message(blocks, ...)` is a whole reply; `Text`, `ToolUse`, `Thinking`,
  `RedactedThinking` are its content blocks. Its `frames(model)` are the SSE
  events as bytes, one network write each.
- `NoAnswer()` never answers at all (not even headers).
- A frame is `bytes`, or a marker: `Drop()` cuts the socket, `Stall()` waits until
  released (or the server closes), `Pause(s)` sleeps (slow tokens).
- `Faulty(message, edit)` renders a message's frames and edits the list; the
  helpers `error_mid_stream`, `drop_mid_stream`, `without_message_stop`,
  `malformed_data`, `stalled` are such edits.
- Any callable `(RecordedRequest) -> Reply` may be pushed too, to decide from the
  request (e.g. answer tool_results).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.simulator.http import DropConnection, HttpServer, Request, Response

DEFAULT_KEY = "sk-ant-test-0000"
_ids = itertools.count(1)


def _next_id(prefix: str) -> str:
    return f"{prefix}_fake{next(_ids):06d}"


# ---- content blocks -------------------------------------------------------------------------


def _split(text: str, pieces: int) -> list[str]:
    """`text` in about `pieces` consecutive non-empty parts (at least one, maybe empty)."""
    if not text:
        return [""]
    size = max(1, -(-len(text) // max(1, pieces)))
    return [text[i : i + size] for i in range(0, len(text), size)]


@dataclass(frozen=True)
class Text:
    text: str
    pieces: int = 3

    def start(self) -> dict[str, Any]:
        return {"type": "text", "text": ""}

    def deltas(self) -> list[dict[str, Any]]:
        return [{"type": "text_delta", "text": p} for p in _split(self.text, self.pieces)]

    def final(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ToolUse:
    name: str
    input: dict[str, Any]
    id: str = field(default_factory=lambda: _next_id("toolu"))
    pieces: int = 3
    # The input's JSON text exactly as streamed, when it is not `json.dumps(input)`: a
    # literal such as `1e999` or `NaN`, or a fragment cut off by max_tokens.
    raw: str | None = None

    def start(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": {}}

    def deltas(self) -> list[dict[str, Any]]:
        # The API's first input_json_delta is often empty; the JSON parses only once whole.
        text = json.dumps(self.input) if self.raw is None else self.raw
        parts = ["", *_split(text, self.pieces)]
        return [{"type": "input_json_delta", "partial_json": p} for p in parts]

    def final(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class Thinking:
    thinking: str
    signature: str = "sig-fake-0123456789"
    pieces: int = 2

    def start(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": "", "signature": ""}

    def deltas(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [
            {"type": "thinking_delta", "thinking": p} for p in _split(self.thinking, self.pieces)
        ]
        out.append({"type": "signature_delta", "signature": self.signature})
        return out

    def final(self) -> dict[str, Any]:
        return {"type": "thinking", "thinking": self.thinking, "signature": self.signature}


@dataclass(frozen=True)
class RedactedThinking:
    data: str = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"

    def start(self) -> dict[str, Any]:
        return {"type": "redacted_thinking", "data": self.data}

    def deltas(self) -> list[dict[str, Any]]:
        return []

    def final(self) -> dict[str, Any]:
        return self.start()


Block = Text | ToolUse | Thinking | RedactedThinking


# ---- frames ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drop:
    """Cut the connection here, mid-body."""


@dataclass(frozen=True)
class Pause:
    """Sleep before the next frame (slow tokens)."""

    seconds: float


@dataclass(frozen=True, eq=False)
class Stall:
    """Stop sending; `reached` is set when the stream gets here, `release()` lets it go on.

    When the server closes, a stalled stream drops its connection instead.
    """

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


Frame = bytes | Drop | Pause | Stall


def sse(event: str, data: dict[str, Any] | str) -> bytes:
    """One SSE event as the API writes it: `event:` line, `data:` line, blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def error_body(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id or _next_id("req"),
    }


# ---- replies --------------------------------------------------------------------------------


class Lifetime:
    """The server's open streams: lets `close()` end stalled streams cleanly, not by cancelling."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self.active = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def enter(self) -> None:
        self.active += 1
        self.idle.clear()

    def leave(self) -> None:
        self.active -= 1
        if self.active == 0:
            self.idle.set()


@dataclass
class RecordedRequest:
    """One request as the server saw it. `body` is the parsed JSON ({} if none or not JSON)."""

    index: int
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    lifetime: Lifetime = field(default_factory=Lifetime, repr=False)

    @property
    def api_key(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return self.headers.get("x-api-key")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools", []))


class Reply(Protocol):
    def render(self, request: RecordedRequest) -> Response | Awaitable[Response]: ...


@dataclass
class Message:
    """A whole assistant reply: streamed as SSE, or as JSON when the request has no `stream`.

    `output_totals` adds earlier `message_delta` events carrying running totals of
    output tokens before the final one (`output_tokens`), to test replace-not-add.
    """

    blocks: Sequence[Block]
    stop_reason: str = "end_turn"
    input_tokens: int = 25
    output_tokens: int = 12
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    start_output_tokens: int = 1
    output_totals: Sequence[int] = ()
    model: str | None = None  # None: echo the request's model
    id: str = field(default_factory=lambda: _next_id("msg"))
    ping: bool = True

    def envelope(self, model: str, content: list[dict[str, Any]], final: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model or model,
            "content": content,
            "stop_reason": self.stop_reason if final else None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "output_tokens": self.output_tokens if final else self.start_output_tokens,
            },
        }

    def frames(self, model: str) -> list[Frame]:
        out: list[Frame] = [
            sse(
                "message_start",
                {"type": "message_start", "message": self.envelope(model, [], False)},
            )
        ]
        if self.ping:
            out.append(sse("ping", {"type": "ping"}))
        for index, block in enumerate(self.blocks):
            out.append(
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": block.start()},
                )
            )
            for delta in block.deltas():
                out.append(
                    sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                )
            out.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        for total in [*self.output_totals, self.output_tokens]:
            out.append(
                sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                        "usage": {"output_tokens": total},
                    },
                )
            )
        out.append(sse("message_stop", {"type": "message_stop"}))
        return out

    def render(self, request: RecordedRequest) -> Response:
        model = str(request.body.get("model", "claude-fake"))
        if not request.stream:
            content = [b.final() for b in self.blocks]
            return json_response(200, self.envelope(model, content, True))
        return stream_response(self.frames(model), request)


@dataclass
class Faulty:
    """A `Message` whose frames are edited before sending (see the fault helpers)."""

    message: Message
    edit: Callable[[list[Frame]], list[Frame]]

    def render(self, request: RecordedRequest) -> Response:
        model = str(request.body.get("model", "claude-fake"))
        return stream_response(self.edit(self.message.frames(model)), request)


@dataclass
class Frames:
    """Raw frames, sent as they are with status 200 and an SSE content type."""

    frames: list[Frame]

    def render(self, request: RecordedRequest) -> Response:
        return stream_response(self.frames, request)


@dataclass(eq=False)
class NoAnswer:
    """Read the request, then send nothing at all, not even the status line, until the
    server closes (then drop the connection). `reached` is set when a request got here."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def render(self, request: RecordedRequest) -> Response:
        self.reached.set()
        await request.lifetime.closing.wait()
        raise DropConnection()


@dataclass
class HttpError:
    """An HTTP error with the API's JSON error body and optional headers (retry-after...)."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, request: RecordedRequest) -> Response:
        response = json_response(self.status, error_body(self.error_type, self.message))
        response.headers.update(self.headers)
        return response


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(
        status=status,
        headers={"content-type": "application/json", "request-id": _next_id("req")},
        body=json.dumps(body).encode(),
    )


def stream_response(frames: Sequence[Frame], request: RecordedRequest) -> Response:
    return Response(
        status=200,
        headers={
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "request-id": _next_id("req"),
        },
        stream=_play(list(frames), request.lifetime),
    )


async def _first(*events: asyncio.Event) -> None:
    """Wait until any of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _play(frames: list[Frame], lifetime: Lifetime) -> AsyncIterator[bytes]:
    lifetime.enter()
    try:
        for frame in frames:
            if lifetime.closing.is_set():
                raise DropConnection()
            if isinstance(frame, bytes):
                yield frame
            elif isinstance(frame, Drop):
                raise DropConnection()
            elif isinstance(frame, Pause):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lifetime.closing.wait(), frame.seconds)
            else:
                frame.reached.set()
                await _first(frame.released, lifetime.closing)
    finally:
        lifetime.leave()


# ---- reply builders -------------------------------------------------------------------------


def text_reply(text: str, *, pieces: int = 3, **message: Any) -> Message:
    """A text reply streamed in `pieces` text deltas; `message` goes to `Message` (usage...)."""
    return Message([Text(text, pieces)], **message)


def tool_use_reply(
    calls: Sequence[tuple[str, dict[str, Any]] | ToolUse],
    *,
    text: str | None = None,
    pieces: int = 3,
    **message: Any,
) -> Message:
    """Parallel tool calls (name, input) in one reply, optionally after some text."""
    blocks: list[Block] = [Text(text)] if text else []
    for call in calls:
        blocks.append(
            call if isinstance(call, ToolUse) else ToolUse(call[0], call[1], pieces=pieces)
        )
    message.setdefault("stop_reason", "tool_use")
    return Message(blocks, **message)


def http_error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> HttpError:
    return HttpError(status, error_type, message, dict(headers or {}))


def _is_event(frame: Frame, name: str) -> bool:
    return isinstance(frame, bytes) and frame.startswith(f"event: {name}\n".encode())


def error_mid_stream(
    message: Message | None = None,
    *,
    after: int = 3,
    error_type: str = "overloaded_error",
    text: str = "Overloaded",
) -> Faulty:
    """Send `after` frames, then `event: error` with the API's error body, then end."""
    error = sse("error", error_body(error_type, text))
    return Faulty(message or text_reply("partial reply"), lambda f: [*f[:after], error])


def drop_mid_stream(message: Message | None = None, *, after: int = 3) -> Faulty:
    """Send `after` frames, then cut the socket."""
    return Faulty(message or text_reply("partial reply"), lambda f: [*f[:after], Drop()])


def without_message_stop(message: Message | None = None) -> Faulty:
    """The whole reply except its final `message_stop`, then a clean end of body."""
    return Faulty(
        message or text_reply("partial reply"),
        lambda f: [x for x in f if not _is_event(x, "message_stop")],
    )


def malformed_data(
    message: Message | None = None,
    *,
    after: int = 3,
    line: bytes = b'event: content_block_delta\ndata: {"type": "content_bl\n\n',
) -> Faulty:
    """Insert a `data:` line that is not valid JSON after `after` frames."""
    return Faulty(message or text_reply("partial reply"), lambda f: [*f[:after], line, *f[after:]])


def stalled(
    message: Message | None = None, *, after: int = 3, stall: Stall | None = None
) -> tuple[Faulty, Stall]:
    """Send `after` frames, then wait on the returned `Stall` (set `reached`, or `release()`)."""
    mark = stall or Stall()
    return Faulty(
        message or text_reply("partial reply"), lambda f: [*f[:after], mark, *f[after:]]
    ), mark


# ---- the server -----------------------------------------------------------------------------

Script = Reply | Callable[[RecordedRequest], Reply]


class FakeAPI:
    """The scripted server. `api_key=None` accepts any request; otherwise a wrong or missing
    key gets the API's 401 (`authentication_error`) without taking a scripted reply.

    With no scripted reply left, `default` answers (a factory), else a 400 that says so
    (400 so that no client retries it).
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_KEY,
        default: Callable[[RecordedRequest], Reply] | None = None,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.api_key = api_key
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._script: list[Script] = []
        self._server = HttpServer(self._handle, host, tls=tls)
        self._arrived = asyncio.Condition()
        self._lifetime = Lifetime()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def push(self, *replies: Script) -> None:
        self._script.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet taken."""
        return len(self._script)

    async def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least `count` requests have arrived."""

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.requests) >= count)

        await asyncio.wait_for(arrived(), timeout_s)
        return self.requests

    async def start(self) -> None:
        await self._server.start()

    async def close(self) -> None:
        """End open streams (stalled ones drop their connection), then stop the server."""
        self._lifetime.closing.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._lifetime.idle.wait(), 2.0)
        await self._server.close()

    async def __aenter__(self) -> FakeAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, request: Request) -> Response:
        try:
            body = json.loads(request.body) if request.body else {}
        except ValueError:
            body = {}
        recorded = RecordedRequest(
            index=len(self.requests),
            at=time.monotonic(),
            method=request.method,
            path=request.path.split("?", 1)[0],
            headers=dict(request.headers),
            body=body if isinstance(body, dict) else {},
            raw=request.body,
            lifetime=self._lifetime,
        )
        async with self._arrived:
            self.requests.append(recorded)
            self._arrived.notify_all()

        if self.api_key is not None and recorded.api_key != self.api_key:
            return json_response(401, error_body("authentication_error", "invalid x-api-key"))
        if recorded.method != "POST":
            return json_response(405, error_body("invalid_request_error", "method not allowed"))
        if recorded.path == "/v1/messages/count_tokens":
            return json_response(200, {"input_tokens": max(1, len(request.body) // 4)})
        if recorded.path != "/v1/messages":
            return json_response(404, error_body("not_found_error", f"no route {recorded.path}"))

        if self._script:
            script = self._script.pop(0)
        elif self.default is not None:
            script = self.default
        else:
            return json_response(
                400,
                error_body(
                    "invalid_request_error",
                    f"FakeAPI: no scripted reply left for request #{recorded.index}",
                ),
            )
        reply = script(recorded) if callable(script) else script
        response = reply.render(recorded)
        if inspect.isawaitable(response):
            response = await response
        return response
