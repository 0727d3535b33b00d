"""A read-only view of one request's conversation, and the Scenario interface.

Scenarios are stateless: every decision is derived from the request (tools offered,
system prompt, the conversation so far), so any number of agents can share one simulator.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from core.simulator.reply import Reply

FEEDBACK_MARK = "\n\nFeedback on your previous attempt:"
STEER_PREFIX = "[message from the lead]"
WRAP_UP_PREFIX = "[system] Time is nearly up"
OPERATOR_PREFIX = "[operator]"
FINISHED_RE = re.compile(r"^\[agent (\S+) finished: (\w+)\]\s*(.*)", re.S)
ROLE_RE = re.compile(r"You are an? (\w+) sub-agent")


@dataclass
class Outcome:
    text: str
    is_error: bool = False

    def json(self) -> dict[str, Any]:
        """The result parsed as a JSON object (CEO tools), or {} when it is not one."""
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class Call:
    id: str
    name: str
    input: dict[str, Any]
    outcome: Outcome | None = None


@dataclass
class Turn:
    """One assistant reply and what the app sent back after it."""

    text: str
    calls: list[Call]
    notes: list[str] = field(default_factory=list)  # user text blocks after the reply


def _texts(blocks: list[Any]) -> list[str]:
    return [
        str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text"
    ]


def _as_blocks(content: Any) -> list[Any]:
    return content if isinstance(content, list) else [{"type": "text", "text": content}]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


class Conversation:
    """What a scenario may look at: the caller, its task, its turns and the latest notes."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.model: str = str(body.get("model", ""))
        self.max_tokens: int = int(body.get("max_tokens") or 0)
        self.tools: list[str] = [str(t.get("name")) for t in body.get("tools") or []]
        self.system: str = _text_of(body.get("system"))
        messages: list[dict[str, Any]] = list(body.get("messages") or [])
        self.first_user: list[str] = []
        self.turns: list[Turn] = []
        for message in messages:
            content = message.get("content")
            if message.get("role") == "assistant":
                blocks = (
                    content if isinstance(content, list) else [{"type": "text", "text": content}]
                )
                calls = [
                    Call(str(b["id"]), str(b["name"]), dict(b.get("input") or {}))
                    for b in blocks
                    if isinstance(b, dict) and b.get("type") == "tool_use"
                ]
                self.turns.append(Turn(_text_of(blocks), calls))
                continue
            blocks = _as_blocks(content)
            texts = [
                str(b.get("text", ""))
                for b in blocks
                if isinstance(b, dict) and b.get("type") == "text"
            ]
            if not self.turns:
                self.first_user.extend(texts)
                continue
            turn = self.turns[-1]
            turn.notes.extend(t for t in texts if t.strip())
            by_id = {c.id: c for c in turn.calls}
            for b in blocks:
                if isinstance(b, dict) and b.get("type") == "tool_result":
                    call = by_id.get(str(b.get("tool_use_id")))
                    if call is not None:
                        call.outcome = Outcome(_text_of(b.get("content")), bool(b.get("is_error")))
        first = "\n\n".join(self.first_user)
        task, _, feedback = first.partition(FEEDBACK_MARK)
        self.task: str = task.strip()
        self.feedback: str | None = feedback.strip() if feedback else None
        if self.task.startswith(OPERATOR_PREFIX):
            self.task = self.task[len(OPERATOR_PREFIX) :].strip()

    @property
    def is_ceo(self) -> bool:
        return "spawn_agent" in self.tools

    @property
    def role(self) -> str:
        match = ROLE_RE.search(self.system)
        return match.group(1).lower() if match else "generic"

    @property
    def attempt(self) -> int:
        return 1 if self.feedback is None else 2

    @property
    def last_notes(self) -> list[str]:
        """User texts that arrived after the latest reply (or with the task, on turn one)."""
        return self.turns[-1].notes if self.turns else self.first_user[1:]

    def notes_with(self, prefix: str) -> list[str]:
        return [n[len(prefix) :].strip() for n in self.last_notes if n.startswith(prefix)]

    def all_notes_with(self, prefix: str) -> list[str]:
        return [
            n[len(prefix) :].strip() for t in self.turns for n in t.notes if n.startswith(prefix)
        ]

    @property
    def calls(self) -> list[Call]:
        return [c for t in self.turns for c in t.calls]

    def calls_named(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    @property
    def last_calls(self) -> list[Call]:
        return self.turns[-1].calls if self.turns else []

    def offers(self, tool: str) -> bool:
        return tool in self.tools


class Scenario:
    """Decides each reply from the request. Subclasses override `ceo` and `worker`."""

    name = "base"

    def reply(self, conv: Conversation) -> Reply:
        return self.ceo(conv) if conv.is_ceo else self.worker(conv)

    def ceo(self, conv: Conversation) -> Reply:
        raise NotImplementedError

    def worker(self, conv: Conversation) -> Reply:
        raise NotImplementedError

    def fault(self, request_number: int) -> str | None:
        """A fault kind to inject into this request (see core.simulator.faults), or None."""
        return None
