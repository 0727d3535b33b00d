"""Helpers for the live-figure tests: one worker whose first reply streams and stalls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.catalog import Catalog, Usage
from core.events import TextDelta, UsageUpdated
from tests.fakeapi import Block, Faulty, Frame, Message, Stall, Text, _is_event
from tests.faults.harness import Call, FaultRun, Plan, Worker

MODEL = "claude-haiku-4-5"
WORKER = "research-1"
LINES = [f"line {i:02d} of the report, with some words in it\n" for i in range(12)]
BODY = "".join(LINES)
FINAL_OUT = 157  # what the API reports at the end (not the estimate: it must replace it)


def stalled_after(
    deltas: int,
    stall: Stall,
    body: str = BODY,
    pieces: int = len(LINES),
    blocks: Sequence[Block] | None = None,
    **message: Any,
) -> Faulty:
    """`body` streamed in `pieces` deltas (or `blocks`, each with its deltas), stopping
    after `deltas` of them until released."""

    def edit(frames: list[Frame]) -> list[Frame]:
        out: list[Frame] = []
        seen = 0
        for frame in frames:
            out.append(frame)
            if _is_event(frame, "content_block_delta"):
                seen += 1
                if seen == deltas:
                    out.append(stall)
        return out

    message.setdefault("input_tokens", 40)
    message.setdefault("output_tokens", FINAL_OUT)
    content = list(blocks) if blocks is not None else [Text(body, pieces)]
    return Faulty(Message(content, **message), edit)


def plan_with(reply: Faulty) -> Plan:
    """The CEO spawns one worker; the worker's first reply is `reply`."""
    plan = Plan([Worker("w", model=MODEL)])
    sent = {"done": False}

    def rule(call: Call) -> Any:
        if call.agent == "w" and not sent["done"]:
            sent["done"] = True
            return reply
        return None

    plan.rules.append(rule)
    return plan


def usage_of(run: FaultRun) -> list[UsageUpdated]:
    return run.recorder.of(UsageUpdated, WORKER)  # type: ignore[no-any-return]


def streamed_chars(run: FaultRun) -> int:
    return sum(len(e.text) for e in run.recorder.of(TextDelta, WORKER))


def cost(input_tokens: int, output_tokens: int) -> float:
    value = Catalog().cost(MODEL, Usage(input_tokens, output_tokens, 0, 0))
    assert value is not None
    return value
