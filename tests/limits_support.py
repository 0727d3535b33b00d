"""Helpers for the limit tests: slow streaming replies, and reading what a run sent."""

from __future__ import annotations

import json
from typing import Any

from tests.fakeapi import Faulty, Frame, Message, Pause, RecordedRequest, Text, ToolUse, _is_event

ANSWERED = ("done", "unverified")  # the CEO answered (with or without a check)


def slow(message: Message, pause_s: float = 0.005) -> Faulty:
    """`message` with a pause after every content delta, so a stop can land mid-reply."""

    def edit(frames: list[Frame]) -> list[Frame]:
        out: list[Frame] = []
        for frame in frames:
            out.append(frame)
            if _is_event(frame, "content_block_delta"):
                out.append(Pause(pause_s))
        return out

    return Faulty(message, edit)


def long_text(pieces: int, size: int = 80, **message: Any) -> Message:
    """A text reply of `pieces` deltas of `size` characters each (distinct, countable)."""
    body = "".join(f"{i:05d}" + "x" * (size - 6) + " " for i in range(pieces))
    return Message([Text(body, pieces)], **message)


def tool_then(name: str, args: dict[str, Any], **message: Any) -> Message:
    message.setdefault("stop_reason", "tool_use")
    return Message([ToolUse(name, args)], **message)


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last user message."""
    content = request.messages[-1]["content"]
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def sent(request: RecordedRequest) -> str:
    """The whole conversation of a request, as text to search."""
    return json.dumps(request.messages, ensure_ascii=False)
