"""Request checks the real API makes, with its error types and messages.

Each check returns an `ApiError` or None; the engine turns it into an HTTP error reply.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from core.simulator.cache import MAX_BREAKPOINTS, breakpoint_count

SIGNING_KEY = b"delegate-simulator"


@dataclass(frozen=True)
class ApiError(Exception):
    status: int
    kind: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


def bad(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


def sign(thinking: str) -> str:
    """The signature of a thinking block; a history with a changed block is refused."""
    return hmac.new(SIGNING_KEY, thinking.encode(), hashlib.sha256).hexdigest()


def check_auth(headers: dict[str, str]) -> ApiError | None:
    auth = headers.get("authorization", "")
    key = headers.get("x-api-key", "")
    if (auth.lower().startswith("bearer ") and auth[7:].strip()) or key.strip():
        return None
    return ApiError(401, "authentication_error", "x-api-key header is required")


def check_body(body: Any, known_models: Collection[str], *, count_only: bool = False) -> None:
    """Raise ApiError when the body is not a request the API would accept."""
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    required = ("model", "messages") if count_only else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise bad(f"{name}: Field required")
    model = body["model"]
    if not isinstance(model, str):
        raise bad("model: Input should be a valid string")
    if not count_only:
        max_tokens = body["max_tokens"]
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise bad("max_tokens: Input should be a positive integer")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise bad("messages: at least one message is required")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise bad("tools: Input should be a valid list")
        names = [t.get("name") for t in tools if isinstance(t, dict)]
        if len(names) != len(set(names)):
            raise bad("tools: Tool names must be unique.")
    if breakpoint_count(body) > MAX_BREAKPOINTS:
        raise bad(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {breakpoint_count(body)}."
        )
    _check_messages(messages)
    if model not in known_models:
        raise ApiError(404, "not_found_error", f"model: {model}")


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    raise bad("messages: content must be a string or a list of blocks")


def _check_messages(messages: list[Any]) -> None:
    pending: list[str] = []  # tool_use ids of the previous assistant message
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        blocks = _blocks(message)
        if message["role"] == "assistant":
            if pending:
                raise _unanswered(i - 1, pending)
            pending = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
            for j, b in enumerate(blocks):
                if b.get("type") == "thinking" and b.get("signature") != sign(
                    str(b.get("thinking", ""))
                ):
                    raise bad(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
            continue
        answered = [str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"]
        stray = [t for t in answered if t not in pending]
        if stray:
            raise bad(
                f"messages.{i}.content.0: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {stray[0]}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )
        missing = [t for t in pending if t not in answered]
        if missing:
            raise _unanswered(i - 1, missing)
        pending = []
    if messages and messages[-1].get("role") == "assistant" and pending:
        raise _unanswered(len(messages) - 1, pending)


def _unanswered(index: int, ids: list[str]) -> ApiError:
    return bad(
        f"messages.{index + 1}: `tool_use` ids were found without `tool_result` blocks "
        f"immediately after: {', '.join(ids)}. Each `tool_use` block must have a "
        "corresponding `tool_result` block in the next message."
    )
