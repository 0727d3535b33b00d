"""Cost of the default scenario, and what prompt caching saves sub-agents.

Runs `delegate run` headless against the simulator (default scenario, the demo task) and
reads the run's events: the last `UsageUpdated` of each agent attempt for the totals, and
each agent's cumulative usage at each `TurnEnded` for per-turn figures. The cache share is
cache-read input over all input (uncached + cache read + cache write), from turn 2 on.
The scenario runs twice: sub-agents with caching (as shipped) and without (as before),
then a 10-turn sub-agent (`bench.agent_turns`) runs both ways over the loopback simulator.

    python -m bench.cost
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.agent_turns import run_agent
from bench.common import parser, table, write_json
from core.agent import Agent, Emit
from core.config import Settings
from core.events import CEO_ID, AgentSpawned, Event, TurnEnded, UsageUpdated
from core.runner import AttemptSpec
from core.session import Session, run_headless

TASK = "Research competitors and build a landing page for a coffee subscription"


def _input(u: UsageUpdated | dict[str, int]) -> tuple[int, int, int]:
    if isinstance(u, UsageUpdated):
        return u.input_tokens, u.cache_read_tokens, u.cache_write_tokens
    return u["input"], u["cache_read"], u["cache_write"]


def _per_turn(seen: list[Event]) -> dict[tuple[str, int], list[dict[str, int]]]:
    """Each agent attempt's usage per turn (differences of its cumulative usage)."""
    now: dict[tuple[str, int], UsageUpdated] = {}
    attempt: dict[str, int] = {}
    snaps: dict[tuple[str, int], list[dict[str, int]]] = {}
    for e in seen:
        if isinstance(e, UsageUpdated) and e.agent_id:
            now[(e.agent_id, e.attempt)] = e
            attempt[e.agent_id] = e.attempt
        elif isinstance(e, TurnEnded) and e.agent_id in attempt:
            key = (e.agent_id, attempt[e.agent_id])
            u = now[key]
            snaps.setdefault(key, []).append(
                {
                    "input": u.input_tokens,
                    "cache_read": u.cache_read_tokens,
                    "cache_write": u.cache_write_tokens,
                    "output": u.output_tokens,
                }
            )
    out: dict[tuple[str, int], list[dict[str, int]]] = {}
    for key, turns in snaps.items():
        prev = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
        out[key] = []
        for snap in turns:
            out[key].append({k: snap[k] - prev[k] for k in snap})
            prev = snap
    return out


def _share(turns: list[dict[str, int]]) -> tuple[int, int]:
    """(cache read, all input) over these turns."""
    read = sum(t["cache_read"] for t in turns)
    return read, sum(t["input"] + t["cache_read"] + t["cache_write"] for t in turns)


async def run_once(*, sub_agent_cache: bool = True) -> dict[str, Any]:
    make_agent = Session._make_agent

    def uncached(self: Session, spec: AttemptSpec, emit: Emit) -> Agent:
        agent = make_agent(self, spec, emit)
        if spec.role != "ceo":
            agent.cache = sub_agent_cache
        return agent

    Session._make_agent = uncached  # type: ignore[method-assign]
    try:
        return await _run_once()
    finally:
        Session._make_agent = make_agent  # type: ignore[method-assign]


async def _run_once() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        ws = Path(tmp)
        (ws / "README.md").write_text("# Coffee subscription\n\nA small landing page project.\n")
        settings = Settings().with_overrides(
            simulate=True,
            scenario="default",
            workspace=ws,
            assume_yes=True,
            sim_tokens_per_s=50_000.0,
        )
        seen: list[Event] = []
        session, outcome = await run_headless(
            settings, TASK, subscribe=lambda b: b.subscribe(seen.append) and None
        )
    models = {e.agent_id: (e.role, e.model) for e in seen if isinstance(e, AgentSpawned)}
    last: dict[tuple[str, int], UsageUpdated] = {}
    ceo_turns: list[dict[str, int]] = []
    ceo_now: UsageUpdated | None = None
    for e in seen:
        if isinstance(e, UsageUpdated) and e.agent_id:
            last[(e.agent_id, e.attempt)] = e
            if e.agent_id == CEO_ID:
                ceo_now = e
        elif isinstance(e, TurnEnded) and e.agent_id == CEO_ID and ceo_now is not None:
            ceo_turns.append(
                {
                    "input": ceo_now.input_tokens,
                    "cache_read": ceo_now.cache_read_tokens,
                    "cache_write": ceo_now.cache_write_tokens,
                    "output": ceo_now.output_tokens,
                }
            )
    per_turn = []
    prev = {"input": 0, "cache_read": 0, "cache_write": 0, "output": 0}
    for snap in ceo_turns:
        per_turn.append({k: snap[k] - prev[k] for k in snap})
        prev = snap
    read, total_in = _share(per_turn[1:])
    sub_read = sub_in = 0
    for (agent_id, _attempt), turns in _per_turn(seen).items():
        if agent_id != CEO_ID:
            r, t = _share(turns[1:])
            sub_read, sub_in = sub_read + r, sub_in + t
    agents = []
    for (agent_id, attempt), u in sorted(last.items()):
        role, model = models.get(agent_id, ("?", "?"))
        agents.append(
            {
                "agent": agent_id, "attempt": attempt, "role": role, "model": model,
                "input": u.input_tokens, "output": u.output_tokens,
                "cache_read": u.cache_read_tokens, "cache_write": u.cache_write_tokens,
                "cost_usd": u.cost_usd,
            }
        )  # fmt: skip
    return {
        "status": outcome.status,
        "cost_usd": outcome.cost_usd,
        "agents": agents,
        "ceo_turns": per_turn,
        "ceo_cache_share_from_turn2": round(read / total_in, 4) if total_in else None,
        "sub_agent_cache_share_from_turn2": round(sub_read / sub_in, 4) if sub_in else None,
        "sub_agent_cost_usd": round(
            sum(a["cost_usd"] or 0.0 for a in agents if a["agent"] != CEO_ID), 6
        ),
        "session_total_cost": session.total_cost(),
    }


def main() -> None:
    p = parser(__doc__ or "")
    args = p.parse_args()
    r = asyncio.run(run_once())
    before = asyncio.run(run_once(sub_agent_cache=False))
    ten = {c: asyncio.run(run_agent(turns=10, cache=c)) for c in (False, True)}
    rows = [
        [a["agent"], a["attempt"], a["role"], a["model"], a["input"], a["cache_read"],
         a["cache_write"], a["output"],
         f"{a['cost_usd']:.4f}" if a["cost_usd"] is not None else "?"]
        for a in r["agents"]
    ]  # fmt: skip
    tot = {
        k: sum(a[k] for a in r["agents"]) for k in ("input", "cache_read", "cache_write", "output")
    }
    rows.append(
        [
            "total",
            "",
            "",
            "",
            tot["input"],
            tot["cache_read"],
            tot["cache_write"],
            tot["output"],
            f"{r['cost_usd']:.4f}",
        ]
    )
    header = ["agent", "try", "role", "model", "input", "cache read", "cache write", "output", "$"]
    print(table(f"Default scenario, simulated ({r['status']})", header, rows))
    turns = [
        [i + 1, t["input"], t["cache_read"], t["cache_write"], t["output"]]
        for i, t in enumerate(r["ceo_turns"])
    ]
    print()
    print(table("CEO per turn", ["turn", "input", "cache read", "cache write", "output"], turns))
    share = r["ceo_cache_share_from_turn2"]
    print(
        f"\nCEO input served from cache, turn 2 on: {share:.1%} (target > 80%)"
        if share is not None
        else "no second CEO turn"
    )
    sub = r["sub_agent_share"] = r["sub_agent_cache_share_from_turn2"]
    print(
        f"sub-agents' input served from cache, turn 2 on: {sub:.1%}"
        if sub is not None
        else "no sub-agent had a second turn"
    )
    print(
        f"\nsub-agents' cost, default scenario: ${before['sub_agent_cost_usd']:.4f} without "
        f"caching, ${r['sub_agent_cost_usd']:.4f} with (run: ${before['cost_usd']:.4f} -> "
        f"${r['cost_usd']:.4f})"
    )
    rows = [
        [
            "cached" if c else "uncached", run.model, sum(t.prompt_tokens for t in run.turns),
            sum(t.cache_read_tokens for t in run.turns),
            sum(t.cache_write_tokens for t in run.turns), f"{run.input_cost_usd:.6f}",
            f"{run.cost_usd:.6f}", f"{run.cache_share():.1%}",
        ]
        for c, run in ten.items()
    ]  # fmt: skip
    header = ["", "model", "input", "cache read", "cache write", "input $", "$", "share t2+"]
    print()
    print(table("A 10-turn sub-agent (reads a file per turn)", header, rows))
    saved = 1 - ten[True].input_cost_usd / ten[False].input_cost_usd
    print(
        f"\n10-turn agent input cost: ${ten[False].input_cost_usd:.6f} -> "
        f"${ten[True].input_cost_usd:.6f} ({saved:.0%} less); from turn 2 on "
        f"{ten[True].cache_share():.1%} of its input is read from the cache (target > 70%)"
    )
    write_json(
        args.json,
        {
            "benchmark": "cost",
            "task": TASK,
            **r,
            "totals": tot,
            "without_sub_agent_cache": before,
            "ten_turn_agent": {str(c): run.as_json() for c, run in ten.items()},
        },
    )


if __name__ == "__main__":
    main()
