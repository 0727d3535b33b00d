"""Orchestration overhead: every sub-agent reply takes exactly 1 s in the simulator.

The CEO answers at once and spawns N agents in one reply; each agent replies once, after
1 s, and is done. With the cap at C the ideal is ceil(N / C) seconds from the spawn to the
last agent's end; the rest is our overhead. Also: spawn_agent -> that agent's first request.

    python -m bench.orchestration               # 50 agents cap 50, 20 agents cap 5
    python -m bench.orchestration --runner temporal [--workers 1,2]   # see its module
    python -m bench.orchestration --via cli     # `delegate run` over loopback: see its module
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ms, parser, percentile, table, write_json
from core.config import Settings
from core.events import CEO_ID, AgentFinished, AgentSpawned, AgentStateChanged, Event
from core.llm import make_client
from core.model_access import ModelAccess
from core.session import Session
from core.simulator import Simulator, SimulatorTransport
from core.simulator.http import Request, Response
from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation, Scenario
from core.simulator.scenarios.ceo import ceo_reply
from core.simulator.scenarios.script import AgentSpec, Script

REPLY_S = 1.0
CASES = ((50, 50), (20, 5))


class FanOut(Scenario):
    """The CEO spawns N agents at once and waits; each agent answers once (1 s) and ends."""

    name = "fan-out"

    def __init__(self, agents: int) -> None:
        self.script = Script(
            agents=[
                AgentSpec(role="research", task=f"Fan-out task {i + 1}") for i in range(agents)
            ],
            plan=f"Spawning {agents} agents.",
            retry_failed=False,
            final="All agents reported.",
        )

    def ceo(self, conv: Conversation) -> Reply:
        reply = ceo_reply(conv, self.script)
        reply.latency_s = 0.0  # only the sub-agents' replies are timed
        return reply

    def worker(self, conv: Conversation) -> Reply:
        return Reply().text(f"Done: {conv.task}.")


class TimedSimulator(Simulator):
    """Records when each sub-agent's first request arrives (wall clock, like event ts)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_request: dict[str, float] = {}

    async def handle(self, request: Request) -> Response:
        now = time.time()
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict) and body.get("messages") and len(body["messages"]) == 1:
            conv = Conversation(body)
            if not conv.is_ceo:
                self.first_request.setdefault(conv.task, now)
        return await super().handle(request)


async def one_case(agents: int, cap: int) -> dict[str, Any]:
    sim = TimedSimulator(FanOut(agents), tokens_per_s=1e6, latency_s=REPLY_S)
    client = make_client("simulator", "http://simulator.invalid", transport=SimulatorTransport(sim))
    access = ModelAccess(client, simulated=True, describe="fan-out")
    with tempfile.TemporaryDirectory(prefix="bench-orch-") as tmp:
        settings = Settings().with_overrides(simulate=True, workspace=Path(tmp), max_concurrent=cap)
        session = Session(settings, access=access)
        events: list[Event] = []
        session.bus.subscribe(events.append)
        t0 = time.time()
        session.start("fan out")
        outcome = await asyncio.wait_for(session.wait_finished(), 120)
        t_end = time.time()
        await session.close()
    row = fan_out_row(events, sim, agents, cap, outcome.status)
    running = {
        e.agent_id: e.ts
        for e in events
        if isinstance(e, AgentStateChanged) and e.state == "running"
    }
    run_to_req = [
        sim.first_request[e.task] - running[a]
        for a, e in spawned_agents(events).items()
        if a in running and e.task in sim.first_request
    ]
    row["run_total_s"] = round(t_end - t0, 3)
    row["start_to_request_p50_ms"] = ms(percentile(run_to_req, 50))
    row["start_to_request_p99_ms"] = ms(percentile(run_to_req, 99))
    return row


def spawned_agents(events: list[Event]) -> dict[str, AgentSpawned]:
    """The sub-agents a run spawned (not the CEO), by id."""
    return {e.agent_id: e for e in events if isinstance(e, AgentSpawned) and e.agent_id != CEO_ID}


def fan_out_row(
    events: list[Event], sim: TimedSimulator, agents: int, cap: int, status: str
) -> dict[str, Any]:
    """The figures of one fan-out run, on either runner: wall is the first spawn to the
    last sub-agent's end, against the ideal ceil(agents / cap) replies; spawn -> request
    is each sub-agent's spawn to its first request at the simulator."""
    spawned = spawned_agents(events)
    finished = [e for e in events if isinstance(e, AgentFinished) and e.agent_id in spawned]
    wall = max(e.ts for e in finished) - min(e.ts for e in spawned.values())
    ideal = math.ceil(agents / cap) * REPLY_S
    to_req = [sim.first_request[e.task] - e.ts for e in spawned.values()
              if e.task in sim.first_request]  # fmt: skip
    return {
        "agents": agents,
        "cap": cap,
        "status": status,
        "done": sum(e.state == "done" for e in finished),
        "wall_s": round(wall, 3),
        "ideal_s": ideal,
        "overhead_pct": round((wall / ideal - 1) * 100, 1),
        "efficiency": round(ideal / wall, 3),
        "spawn_to_request_p50_ms": ms(percentile(to_req, 50)),
        "spawn_to_request_p99_ms": ms(percentile(to_req, 99)),
    }


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--repeat", type=int, default=3, help="runs per case; the median is shown")
    p.add_argument(
        "--runner",
        choices=("local", "temporal"),
        default="local",
        help="temporal: the fan-out on the local runner and on Temporal, with steer and kill",
    )
    p.add_argument(
        "--workers", default="1,2", help="with --runner temporal: worker processes per case"
    )
    p.add_argument(
        "--via",
        choices=("session", "cli"),
        default="session",
        help="cli: `delegate run` in a child process against a loopback server "
        "(bench/orchestration_cli.py), 20 agents at cap 20 and cap 5, against the floor",
    )
    p.add_argument("--caps", default="20,5", help="with --runner temporal: the caps to run")
    p.add_argument(
        "--no-probes", action="store_true", help="with --runner temporal: no steer/kill probes"
    )
    args = p.parse_args()
    if args.via == "cli":
        from bench.orchestration_cli import main_cli

        main_cli(args.repeat, args.json)
        return
    if args.runner == "temporal":
        from bench.orchestration_temporal import main as temporal_main

        temporal_main(args)
        return
    results = []
    for agents, cap in CASES:
        runs = [asyncio.run(one_case(agents, cap)) for _ in range(args.repeat)]
        runs.sort(key=lambda r: r["wall_s"])
        best = dict(runs[len(runs) // 2])
        best["walls_s"] = [r["wall_s"] for r in runs]
        results.append(best)
    rows = [
        [
            r["agents"], r["cap"], r["ideal_s"], r["wall_s"], f"{r['overhead_pct']:+.1f}%",
            r["spawn_to_request_p50_ms"], r["spawn_to_request_p99_ms"],
            r["start_to_request_p50_ms"], r["start_to_request_p99_ms"], r["done"],
        ]
        for r in results
    ]  # fmt: skip
    header = [
        "agents", "cap", "ideal s", "wall s", "overhead", "spawn->req p50", "spawn->req p99",
        "start->req p50", "start->req p99", "done",
    ]  # fmt: skip
    title = f"Orchestration, {REPLY_S:g} s per reply (median of {args.repeat}; ms unless noted)"
    print(table(title, header, rows))
    print("\nwall: first spawn to last agent's end; target: within 10% of ideal")
    write_json(args.json, {"benchmark": "orchestration", "reply_s": REPLY_S, "cases": results})


if __name__ == "__main__":
    main()
