"""What a scenario answers: the content blocks of one model reply, and optional pacing.

Scenarios build a `Reply`; the engine gives it ids, counts its tokens and streams it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Text:
    text: str


@dataclass
class Thinking:
    thinking: str


@dataclass
class ToolCall:
    name: str
    input: dict[str, Any]


Block = Text | Thinking | ToolCall


@dataclass
class Reply:
    """One assistant reply. `stop_reason` defaults to tool_use when it calls tools."""

    blocks: list[Block] = field(default_factory=list)
    stop_reason: str | None = None
    # Per-reply pacing overrides (the load and timeout scenarios use them).
    tokens_per_s: float | None = None
    latency_s: float | None = None

    def text(self, text: str) -> Reply:
        if text:
            self.blocks.append(Text(text))
        return self

    def call(self, name: str, **args: Any) -> Reply:
        self.blocks.append(ToolCall(name, dict(args)))
        return self

    @property
    def calls(self) -> list[ToolCall]:
        return [b for b in self.blocks if isinstance(b, ToolCall)]

    @property
    def final_stop_reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if self.calls else "end_turn"


def estimate_tokens(text: str) -> int:
    """The simulator's token count: about four characters a token, at least one."""
    return max(1, (len(text) + 3) // 4)
