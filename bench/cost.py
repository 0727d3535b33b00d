"""Cost of the default scenario: tokens and dollars per run, and the CEO's prompt-cache share.

Runs `delegate run` headless against the simulator (default scenario, the demo task) and
reads the run's events: the last `UsageUpdated` of each agent attempt for the totals, and
the CEO's cumulative usage at each `TurnEnded` for per-turn figures. The cache share is
cache-read input over all input (uncached + cache read + cache write), from turn 2 on.

    python -m bench.cost
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.common import parser, table, write_json
from core.config import Settings
from core.events import CEO_ID, AgentSpawned, Event, TurnEnded, UsageUpdated
from core.session import run_headless

TASK = "Research competitors and build a landing page for a coffee subscription"


def _input(u: UsageUpdated | dict[str, int]) -> tuple[int, int, int]:
    if isinstance(u, UsageUpdated):
        return u.input_tokens, u.cache_read_tokens, u.cache_write_tokens
    return u["input"], u["cache_read"], u["cache_write"]


async def run_once() -> dict[str, Any]:
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
    later = per_turn[1:]
    read = sum(t["cache_read"] for t in later)
    total_in = sum(t["input"] + t["cache_read"] + t["cache_write"] for t in later)
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
        "session_total_cost": session.total_cost(),
    }


def main() -> None:
    p = parser(__doc__ or "")
    args = p.parse_args()
    r = asyncio.run(run_once())
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
    write_json(args.json, {"benchmark": "cost", "task": TASK, **r, "totals": tot})


if __name__ == "__main__":
    main()
