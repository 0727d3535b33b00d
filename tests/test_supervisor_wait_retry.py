"""A wait on agents follows an agent that is retried while it waits: it returns when the
new attempt ends too, instead of hanging on the ended attempt's event (the CEO's
wait_for_agents stayed busy for good once the operator retried an agent it waited on)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.llm import TurnRequest, TurnResult, TurnSink
from tests.scripted import ScriptedModel, first_text, make_supervisor, text


@pytest.mark.parametrize("wake", [False, True], ids=["no-wake", "wake"])
async def test_a_wait_returns_when_a_retried_agent_ends_again(tmp_path: Path, wake: bool) -> None:
    """Without a wake event the wait returned at y's end with x's attempt 2 running; with
    one (the CEO's) it waited on the wake alone and never returned."""
    gates: dict[str, asyncio.Event] = {}

    async def gated(request: TurnRequest, sink: TurnSink) -> TurnResult:
        task = first_text(request).split("\n")[0]
        await gates.setdefault(task, asyncio.Event()).wait()
        return text(f"{task} done")

    sup, _, _ = make_supervisor(ScriptedModel(gated), tmp_path)
    x = sup.spawn("research", "x", "claude-haiku-5-5", None)
    y = sup.spawn("research", "y", "claude-haiku-5-5", None)
    woken = asyncio.Event() if wake else None
    waiting = asyncio.ensure_future(sup.wait([x.agent_id, y.agent_id], None, wake=woken))
    gates.setdefault("x", asyncio.Event()).set()
    await x.done.wait()
    gates["x"] = asyncio.Event()  # the retry's reply waits on a new gate
    again = sup.retry(x.agent_id, note="again")
    assert again.attempt == 2 and not again.finished
    gates.setdefault("y", asyncio.Event()).set()
    await y.done.wait()
    for _ in range(3):  # yield: the wait sees y end, and goes on waiting for x's attempt 2
        await asyncio.sleep(0)
    assert not waiting.done()
    gates["x"].set()
    async with asyncio.timeout(5):
        records = await waiting
    assert [(r.agent_id, r.state, r.attempt) for r in records] == [
        (x.agent_id, "done", 2),
        (y.agent_id, "done", 1),
    ]
