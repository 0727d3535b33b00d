"""A sub-agent of N turns against the loopback simulator, with and without prompt caching.

The agent reads one workspace file per turn (about `file_bytes` each, like source files),
then reports: its conversation grows every turn, as a coding agent's does. It runs as
the app runs it (`core.agent.Agent`, the role's system prompt and tools, `ModelClient`
over the real SDK) against `delegate simulator`'s server on a loopback port, which bills
input as uncached, cache write and cache read following the API's rules.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.agent import Agent
from core.catalog import Usage
from core.config import Settings
from core.events import Event, TurnEnded, UsageUpdated
from core.llm import ModelClient, make_client
from core.simulator import Simulator, serve
from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation, Scenario
from core.tools.base import ToolContext
from core.tools.registry import build_tools

ROLE = "coding"


class ReadEachTurn(Scenario):
    """Worker turn k < turns reads file k (`calls` times in parallel); the last one reports."""

    def __init__(self, turns: int, calls: int = 1) -> None:
        self.turns = turns
        self.calls = calls

    def reply(self, conv: Conversation) -> Reply:
        done = len(conv.turns)
        if done + 1 >= self.turns:
            return Reply().text(f"Read {done} files; the module layout is clear.")
        reply = Reply().text(f"Reading part {done + 1}.")
        for _ in range(self.calls):
            reply.call("read_file", path=f"src/m{done}.py")
        return reply


@dataclass(frozen=True)
class TurnUsage:
    turn: int
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


@dataclass(frozen=True)
class AgentRun:
    cache: bool
    model: str
    turns: list[TurnUsage]
    cost_usd: float
    input_cost_usd: float  # the prompt's part: uncached + cache write + cache read

    def cache_share(self, from_turn: int = 2) -> float:
        """Cache-read input over all input, from `from_turn` on."""
        later = [t for t in self.turns if t.turn >= from_turn]
        total = sum(t.prompt_tokens for t in later)
        return sum(t.cache_read_tokens for t in later) / total if total else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "cache": self.cache,
            "model": self.model,
            "cost_usd": round(self.cost_usd, 6),
            "input_cost_usd": round(self.input_cost_usd, 6),
            "cache_share_from_turn2": round(self.cache_share(), 4),
            "turns": [vars(t) for t in self.turns],
        }


def _source(i: int, size: int) -> str:
    lines = [f'"""Module {i}: part of the service."""', ""]
    n = 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"def handler_{i}_{n}(request, limit={n}):")
        lines.append(f"    return [item for item in request.items[:limit] if item.id != {n}]")
        lines.append("")
        n += 1
    return "\n".join(lines)


async def run_agent(
    *,
    turns: int = 10,
    cache: bool = True,
    file_bytes: int = 1500,
    model: str | None = None,
    calls: int = 1,
) -> AgentRun:
    settings = Settings()
    spec = settings.roles[ROLE]
    model = model or spec.model
    sim = Simulator(
        ReadEachTurn(turns, calls),
        tokens_per_s=1e6,
        latency_s=0.0,
        seed=1,
        min_cache_tokens=settings.catalog.min_cache_tokens,
    )
    server = await serve(sim, "127.0.0.1", 0)
    sdk = make_client("sk-ant-bench", server.base_url, max_retries=0)
    events: list[Event] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-turns-") as tmp:
            ws = Path(tmp)
            (ws / "src").mkdir()
            for i in range(turns):
                (ws / "src" / f"m{i}.py").write_text(_source(i, file_bytes))

            async def allow(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
                return True, ""

            agent = Agent(
                run_id="bench",
                agent_id=f"{ROLE}-1",
                role=ROLE,
                model=model,
                system=spec.system_prompt,
                tools=build_tools(spec.tools),
                ctx=ToolContext(workspace=ws, agent_id=f"{ROLE}-1", authorize=allow),
                client=ModelClient(sdk, retries=0),
                catalog=settings.catalog,
                emit=events.append,
                max_tokens=spec.max_tokens,
                cache=cache,
            )
            agent.start("Read the modules under src/ one by one and describe the layout.")
            await agent.run()
    finally:
        await sdk.close()
        await server.close()
    per_turn: list[TurnUsage] = []
    last: UsageUpdated | None = None
    prev = Usage()
    for e in events:
        if isinstance(e, UsageUpdated):
            last = e
        elif isinstance(e, TurnEnded) and last is not None:
            now = Usage(
                last.input_tokens,
                last.output_tokens,
                last.cache_read_tokens,
                last.cache_write_tokens,
            )
            per_turn.append(
                TurnUsage(
                    e.turn,
                    now.input_tokens - prev.input_tokens,
                    now.cache_read_tokens - prev.cache_read_tokens,
                    now.cache_write_tokens - prev.cache_write_tokens,
                    now.output_tokens - prev.output_tokens,
                )
            )
            prev = now
    cost = sum(
        settings.catalog.cost(
            model,
            Usage(t.input_tokens, t.output_tokens, t.cache_read_tokens, t.cache_write_tokens),
        )
        or 0.0
        for t in per_turn
    )
    input_cost = sum(
        settings.catalog.cost(
            model, Usage(t.input_tokens, 0, t.cache_read_tokens, t.cache_write_tokens)
        )
        or 0.0
        for t in per_turn
    )
    return AgentRun(cache, model, per_turn, cost, input_cost)
