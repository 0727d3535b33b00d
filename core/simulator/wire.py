"""The Messages API wire format: SSE events of a streamed message, error bodies, JSON replies.

Everything here is pure encoding; the engine decides timing. `stream_events` yields each
SSE frame with the number of output tokens it carries, so the caller can pace it.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from typing import Any

from core.simulator.reply import estimate_tokens

SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
JSON_HEADERS = {"content-type": "application/json"}
_ALPHABET = string.ascii_letters + string.digits
PING_EVERY = 120  # frames between pings in a long stream

ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def new_id(prefix: str, rng: random.Random) -> str:
    """An id shaped like the API's: `msg_01...`, `toolu_01...`, `req_01...`."""
    return prefix + "01" + "".join(rng.choices(_ALPHABET, k=22))


_dumps_compact = json.JSONEncoder(separators=(",", ":")).encode
_json_string = json.encoder.encode_basestring_ascii  # what json.dumps(a str) gives, directly


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One SSE frame; the blank line at the end is what makes the client dispatch it."""
    return f"event: {event}\ndata: {_dumps_compact(data)}\n\n".encode()


def error_payload(kind: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_body(kind: str, message: str, request_id: str) -> bytes:
    return json.dumps(error_payload(kind, message, request_id)).encode()


def usage_json(
    input_tokens: int, cache_write: int, cache_read: int, output_tokens: int, ttl: str = "5m"
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_write if ttl == "5m" else 0,
            "ephemeral_1h_input_tokens": cache_write if ttl == "1h" else 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def message_json(
    msg_id: str,
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    usage: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def block_tokens(block: dict[str, Any]) -> int:
    kind = block["type"]
    if kind == "text":
        return estimate_tokens(block["text"])
    if kind == "thinking":
        return estimate_tokens(block["thinking"])
    return estimate_tokens(json.dumps(block["input"]))


def split_text(text: str, rng: random.Random, low: int = 8, high: int = 24) -> Iterator[str]:
    """Cut text into pieces of a few tokens (low to high characters), preferring to cut
    after a space; lazily, so a long reply is cut as it streams, not all at once when it
    starts."""
    pos, size, span, half = 0, len(text), high - low + 1, low // 2
    draw = rng.random
    while pos < size:
        end = pos + low + int(draw() * span)  # randint(low, high), without its overhead
        if end < size:
            space = text.rfind(" ", pos + half, end)
            if space > pos:
                end = space + 1
        else:
            end = size
        yield text[pos:end]
        pos = end


def _block_start(block: dict[str, Any]) -> dict[str, Any]:
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": ""}
    if kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}


def _block_deltas(block: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """The deltas of a thinking or tool_use block (text blocks: `_text_frames`)."""
    kind = block["type"]
    if kind == "thinking":
        for piece in split_text(block["thinking"], rng):
            yield {"type": "thinking_delta", "thinking": piece}
        yield {"type": "signature_delta", "signature": block["signature"]}
    else:
        yield {"type": "input_json_delta", "partial_json": ""}
        raw = json.dumps(block["input"])
        for piece in split_text(raw, rng, 10, 40):
            yield {"type": "input_json_delta", "partial_json": piece}


_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_TEXT_DELTA_FRAME = (
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
    '"delta":{"type":"text_delta","text":%s}}\n\n'
)


def _delta_frame(index: int, delta: dict[str, Any]) -> bytes:
    """A `content_block_delta` frame: `sse(...)` of it."""
    return sse(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    )


def _text_frames(index: int, text: str, rng: random.Random) -> Iterator[tuple[bytes, int]]:
    """A text block's delta frames (nearly every frame of a reply) with the tokens each
    carries: the text's pieces filled into a frame template, the same bytes as
    `_delta_frame` of `{"type": "text_delta", "text": piece}` without building the dict."""
    template = _TEXT_DELTA_FRAME
    for piece in split_text(text, rng):
        yield (template % (index, _json_string(piece))).encode(), (len(piece) + 3) // 4


def _delta_tokens(delta: dict[str, Any]) -> int:
    for key in ("text", "thinking", "partial_json"):
        if key in delta:
            return (len(delta[key]) + 3) // 4
    return 0


def stream_events(
    msg_id: str,
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str,
    usage: dict[str, Any],
    rng: random.Random,
) -> Iterator[tuple[bytes, int]]:
    """The frames of a streamed message, each with the output tokens it carries.

    The usage in `message_start` has `output_tokens` 1, as the API sends; the final
    `message_delta` carries the cumulative totals.
    """
    start_usage = dict(usage, output_tokens=1)
    yield (
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": message_json(msg_id, model, [], None, start_usage),
            },
        ),
        0,
    )
    frames = 0
    for index, block in enumerate(content):
        yield (
            sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": _block_start(block),
                },
            ),
            0,
        )
        if index == 0:
            yield _PING, 0
        deltas: Iterator[tuple[bytes, int]] = (
            _text_frames(index, block["text"], rng)
            if block["type"] == "text"
            else ((_delta_frame(index, d), _delta_tokens(d)) for d in _block_deltas(block, rng))
        )
        for frame in deltas:
            frames += 1
            if frames % PING_EVERY == 0:
                yield _PING, 0
            yield frame
        yield sse("content_block_stop", {"type": "content_block_stop", "index": index}), 0
    final_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    yield (
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": final_usage,
            },
        ),
        0,
    )
    yield sse("message_stop", {"type": "message_stop"}), 0
